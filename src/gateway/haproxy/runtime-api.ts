/**
 * HAProxy's runtime API (the admin stats socket) in interactive mode: one connection, commands
 * sent one at a time in order, each answer read up to the next prompt.
 */
import { connect, type Socket } from 'node:net';
import { DriverError } from '../../lib/index.js';

const PROMPT = '\n> ';
/** Answers that mean a command did nothing (HAProxy answers success with an empty or informative line). */
const FAILED =
  /^(No such|Unknown|Require|Invalid|Can't|Cannot|Unable|Missing|Out of memory|Already|.*not found|.*cannot )/im;

interface Pending {
  command: string;
  resolve: (answer: string) => void;
  reject: (err: Error) => void;
}

export class RuntimeApi {
  private socket: Socket | undefined;
  private buffer = '';
  private readonly queue: Pending[] = [];
  private ready: Promise<void> | undefined;

  constructor(private readonly path: string) {}

  /** Sends one command; resolves with its answer, rejects when HAProxy says it failed. */
  send(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      if (this.queue.length === 1) void this.next();
    });
  }

  /** Sends commands in order; stops at the first failure. */
  async sendAll(commands: readonly string[]): Promise<void> {
    await Promise.all(commands.map((c) => this.send(c)));
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.ready = undefined;
  }

  private async next(): Promise<void> {
    const head = this.queue[0];
    if (!head) return;
    try {
      await this.open();
      this.socket!.write(`${head.command}\n`);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private open(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const socket = connect(this.path);
      this.socket = socket;
      this.buffer = '';
      let greeted = false;
      socket.setEncoding('utf8');
      socket.once('connect', () => socket.write('prompt\n'));
      socket.on('data', (text: string) => {
        this.buffer += text;
        if (!greeted) {
          if (!this.buffer.includes('> ')) return;
          greeted = true;
          this.buffer = '';
          resolve();
          return;
        }
        this.drainAnswers();
      });
      let gone = false;
      const lost = (err?: Error) => {
        if (gone) return;
        gone = true;
        this.socket = undefined;
        this.ready = undefined;
        const error = new DriverError(`talk to haproxy: admin socket closed (${err?.message ?? 'end'})`, {
          hint: 'see the haproxy process output; cairn restarts it when it exits',
        });
        if (!greeted) reject(error);
        else this.fail(error);
      };
      socket.once('error', lost);
      socket.once('close', () => lost());
    });
    return this.ready;
  }

  private drainAnswers(): void {
    for (;;) {
      const end = this.buffer.indexOf(PROMPT);
      if (end === -1) return;
      const answer = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + PROMPT.length);
      const head = this.queue.shift();
      if (!head) continue;
      if (FAILED.test(answer))
        head.reject(
          new DriverError(
            `haproxy refused "${head.command.split(' ').slice(0, 3).join(' ')}": ${answer.trim()}`,
          ),
        );
      else head.resolve(answer);
      void this.next();
    }
  }

  private fail(err: Error): void {
    const head = this.queue.shift();
    head?.reject(err);
    void this.next();
  }
}
