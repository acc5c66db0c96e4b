/** The control plane's end of a gateway's control socket: requests with ids, answers by id. */
import { connect, type Socket } from 'node:net';
import { DriverError } from '../../lib/index.js';
import { readJsonLines, writeJsonLine } from './json-lines.js';
import { type Operation, type Operations, PROTOCOL_VERSION, type ResponseMessage } from './protocol.js';

const DEFAULT_TIMEOUT_MS = 10_000;

interface Waiting {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class ControlClient {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private closedError: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly path: string,
  ) {
    readJsonLines(socket, (m) => this.onAnswer(m as ResponseMessage));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.closedError = new DriverError(`talking to the gateway at ${path}: the connection closed`);
      for (const w of this.waiting.values()) {
        clearTimeout(w.timer);
        w.reject(this.closedError);
      }
      this.waiting.clear();
    });
  }

  /** Connects to the socket at `path`; rejects when nothing listens there. */
  static connect(path: string, timeoutMs = 2_000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlClient(socket, path));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Called once when the connection ends (the gateway stopped or died). */
  onClose(listener: () => void): void {
    if (this.closedError) queueMicrotask(listener);
    else this.socket.once('close', listener);
  }

  call<K extends Operation>(
    op: K,
    args: Operations[K]['args'],
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<Operations[K]['result']> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(
          new DriverError(`talking to the gateway at ${this.path}: ${op} had no answer in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.waiting.set(id, { resolve: resolve as (r: unknown) => void, reject, timer });
      writeJsonLine(this.socket, { v: PROTOCOL_VERSION, id, op, args });
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onAnswer(m: ResponseMessage): void {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    clearTimeout(w.timer);
    if (m.ok) w.resolve(m.result);
    else w.reject(new DriverError(m.error.message, m.error.hint ? { hint: m.error.hint } : {}));
  }
}
