/**
 * One client connection to the gateway: reads request heads, hands each request to the gateway,
 * feeds its body to whoever forwards it, and keeps the connection (or closes it) when the answer
 * is done. Requests on one connection are served one after the other (pipelined bytes wait).
 */
import type { Socket } from 'node:net';
import { clientIpOf } from './forward-headers.js';
import { headEnd, parseRequestHead, type RequestHead, reasonOf } from './http1.js';
import { type BodySink, RequestBody } from './request-body.js';
import type { GatewayLimits } from './types.js';

export enum ConnState {
  /** Between requests. */
  Idle,
  /** Part of a request head has arrived. */
  Head,
  /** A request is being served. */
  Busy,
  /** Bytes are tunnelled to a backend (WebSocket); this object no longer reads. */
  Tunnel,
  Closed,
}

/** What the gateway provides to its connections. */
export interface ConnectionHost {
  readonly limits: GatewayLimits;
  /** Serves one request; must end with `conn.done()` (directly or through `answer`). */
  serve(conn: ClientConnection, head: RequestHead): void;
  /** A request refused before routing (bad head, timeout): counted in the metrics. */
  refused(status: number): void;
  closed(conn: ClientConnection): void;
}

/** The exchange in progress, told about the client side of the connection. */
export interface ClientListener {
  onClientDrain(): void;
  onClientClose(): void;
}

const LEADING_CRLF = /^(\r\n)+/;

export class ClientConnection {
  readonly clientIp: string;
  state = ConnState.Idle;
  /** When the current state began (head timeout) or the last byte was read (idle). */
  since = Date.now();
  body: RequestBody | undefined;
  listener: ClientListener | undefined;
  /** The exchange streaming an answer, for the backend body idle timeout. */
  running: { idleFor(now: number): number; abort(): void } | undefined;
  /** Close once the current answer is written (the request body was not read, or asked for). */
  closeAfter = false;
  private buf: Buffer | null = null;
  private scanFrom = 0;
  private readonly onData = (d: Buffer) => this.read(d);

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    this.clientIp = clientIpOf(socket.remoteAddress);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('drain', () => this.listener?.onClientDrain());
    socket.on('error', () => {});
    socket.on('close', () => {
      this.state = ConnState.Closed;
      this.host.closed(this);
      this.listener?.onClientClose();
    });
  }

  private read(d: Buffer): void {
    let chunk: Buffer | null = d;
    if (this.body?.attached && !this.body.complete) {
      this.since = Date.now();
      const { rest, paused } = this.body.feed(d);
      if (paused) this.socket.pause();
      chunk = rest;
      if (!chunk) return;
    }
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.state === ConnState.Idle) {
      this.state = ConnState.Head;
      this.since = Date.now();
    }
    if (this.state === ConnState.Head) this.parseHead();
    else if (this.buf.length > this.host.limits.maxHeaderBytes) this.socket.pause(); // pipelined: wait
  }

  private parseHead(): void {
    let buf = this.buf!;
    if (this.scanFrom === 0 && buf[0] === 0x0d) {
      const skip = LEADING_CRLF.exec(buf.toString('latin1', 0, 64))?.[0].length ?? 0;
      buf = buf.subarray(skip);
      this.buf = buf.length > 0 ? buf : null;
      if (!this.buf) return;
    }
    const end = headEnd(buf, this.scanFrom);
    const max = this.host.limits.maxHeaderBytes;
    if (end < 0 || end > max) {
      if (buf.length > max) this.reject(431, 'send smaller headers');
      else this.scanFrom = buf.length;
      return;
    }
    const head = parseRequestHead(buf.toString('latin1', 0, end - 4));
    this.buf = end < buf.length ? buf.subarray(end) : null;
    this.scanFrom = 0;
    if ('status' in head) {
      this.reject(head.status, head.message);
      return;
    }
    this.state = ConnState.Busy;
    this.body = head.chunked || head.contentLength > 0 ? new RequestBody(head) : undefined;
    this.closeAfter = !head.keepAlive;
    this.host.serve(this, head);
  }

  /** Starts passing the request body to `sink`, beginning with bytes already read. */
  startBody(sink: BodySink): void {
    const body = this.body;
    if (!body) return;
    body.attach(sink);
    const pending = this.buf;
    this.buf = null;
    if (pending) {
      const { rest, paused } = body.feed(pending);
      this.buf = rest;
      if (paused) return void this.socket.pause();
    }
    this.socket.resume();
  }

  /** The request body is still on the wire. */
  get bodyUnread(): boolean {
    return this.body !== undefined && !this.body.complete;
  }

  /** Writes bytes of the answer; false asks the writer to wait for `onClientDrain`. */
  write(bytes: Buffer | string): boolean {
    return typeof bytes === 'string' ? this.socket.write(bytes, 'latin1') : this.socket.write(bytes);
  }

  /** Answers with a small JSON error (the gateway's own answers). */
  answer(status: number, message: string, extra?: Record<string, string>): void {
    if (this.state === ConnState.Closed) return;
    const body = `${JSON.stringify({ error: message })}\n`;
    if (this.bodyUnread) this.closeAfter = true;
    let head = `HTTP/1.1 ${status} ${reasonOf(status)}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    for (const [k, v] of Object.entries(extra ?? {})) head += `${k}: ${v}\r\n`;
    if (this.closeAfter) head += 'connection: close\r\n';
    this.socket.write(`${head}\r\n${body}`);
  }

  /** The answer is complete: read the next request, or close. */
  done(): void {
    this.listener = undefined;
    if (this.state !== ConnState.Busy) return;
    if (this.closeAfter || this.bodyUnread) {
      this.state = ConnState.Closed;
      this.socket.end();
      return;
    }
    this.body = undefined;
    this.state = this.buf ? ConnState.Head : ConnState.Idle;
    this.since = Date.now();
    if (this.socket.isPaused()) this.socket.resume();
    if (this.buf) setImmediate(() => this.state === ConnState.Head && this.parseHead());
  }

  /** Hands the socket over to a tunnel; returns bytes already read past the head. */
  detach(): Buffer | null {
    this.socket.off('data', this.onData);
    this.state = ConnState.Tunnel;
    const rest = this.buf;
    this.buf = null;
    return rest;
  }

  /** Refuses a request the gateway could not read, then closes. */
  private reject(status: number, message: string): void {
    this.host.refused(status);
    this.state = ConnState.Busy;
    this.closeAfter = true;
    this.buf = null;
    this.answer(status, message);
    this.done();
  }

  /** Enforces the head, idle and request-body timeouts; called about once a second. */
  sweep(now: number): void {
    const { headersTimeoutMs, idleTimeoutMs, bodyIdleTimeoutMs } = this.host.limits;
    if (this.state === ConnState.Head && now - this.since > headersTimeoutMs)
      this.reject(408, 'send the request head faster');
    else if (this.state === ConnState.Idle && now - this.since > idleTimeoutMs) this.socket.end();
    else if (this.state !== ConnState.Busy) return;
    else if (this.body?.attached && this.bodyUnread && now - this.since > bodyIdleTimeoutMs)
      this.socket.destroy();
    else if (this.running && this.running.idleFor(now) > bodyIdleTimeoutMs) this.running.abort();
  }
}
