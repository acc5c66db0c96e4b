/**
 * One client connection to the gateway: reads request heads, hands each request to the gateway,
 * feeds its body to whoever forwards it, and keeps the connection (or closes it) when the answer
 * is done. Requests on one connection are served one after the other (pipelined bytes wait).
 *
 * What must stay true: every connection ends. A connection in any state is either making
 * progress or under a timeout of the sweep, and one the gateway closes (a refused request, an
 * idle client, the per-client cap) is read and discarded — never paused — until the client hangs
 * up or `CLOSE_LINGER_MS` passes, then destroyed.
 */
import type { Socket } from 'node:net';
import type { ClientCounts } from './client-counts.js';
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
  /** The gateway ended its side: what the client still sends is discarded until the linger ends. */
  Closed,
}

/**
 * How long a connection the gateway closed is still read (so the client gets the answer instead
 * of a reset), before it is destroyed whether or not the client hung up.
 */
export const CLOSE_LINGER_MS = 2_000;
/** A closing client that sends more than this is cut at once. */
const MAX_LINGER_BYTES = 64 * 1024;

/** What the gateway provides to its connections. */
export interface ConnectionHost {
  readonly limits: GatewayLimits;
  /** Open connections per client address, for `limits.maxConnectionsPerClient`. */
  readonly clients: ClientCounts;
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
  /** Bytes discarded since the gateway closed its side. */
  private lingerBytes = 0;
  private readonly onData = (d: Buffer) => this.read(d);

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    this.clientIp = clientIpOf(socket.remoteAddress);
    const counted = host.clients.add(this.clientIp, host.limits.maxConnectionsPerClient);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('drain', () => this.listener?.onClientDrain());
    socket.on('error', () => {});
    socket.on('close', () => {
      if (counted) this.host.clients.remove(this.clientIp);
      this.state = ConnState.Closed;
      this.host.closed(this);
      this.listener?.onClientClose();
    });
    if (!counted) this.refuseOverCap();
  }

  /** The address the client connected to, as an authority (`127.0.0.1:8080`, `[::1]:8080`). */
  get localAuthority(): string {
    const address = clientIpOf(this.socket.localAddress);
    return `${address.includes(':') ? `[${address}]` : address}:${this.socket.localPort}`;
  }

  private read(d: Buffer): void {
    if (this.state === ConnState.Closed) {
      this.discard(d);
      return;
    }
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
      this.shut();
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

  /**
   * Ends the gateway's side: the client may still read the answer; what it sends is discarded (a
   * paused socket would never see the client hang up), and the sweep destroys it after the linger.
   */
  private shut(): void {
    this.state = ConnState.Closed;
    this.since = Date.now();
    this.buf = null;
    this.socket.end();
    if (this.socket.isPaused()) this.socket.resume();
  }

  private discard(d: Buffer): void {
    this.lingerBytes += d.length;
    if (this.lingerBytes > MAX_LINGER_BYTES) this.socket.destroy();
  }

  /** Over the per-client cap: a short 429, and the socket is gone as soon as it is written. */
  private refuseOverCap(): void {
    const max = this.host.limits.maxConnectionsPerClient;
    this.host.refused(429);
    this.closeAfter = true;
    this.answer(429, `close some connections: at most ${max} per client`, { 'retry-after': '1' });
    this.socket.once('finish', () => this.socket.destroy());
    this.shut();
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

  /** Enforces the head, idle, request-body and linger timeouts; called about once a second. */
  sweep(now: number): void {
    const { headersTimeoutMs, idleTimeoutMs, bodyIdleTimeoutMs } = this.host.limits;
    if (this.state === ConnState.Head && now - this.since > headersTimeoutMs)
      this.reject(408, 'send the request head faster');
    else if (this.state === ConnState.Idle && now - this.since > idleTimeoutMs) this.shut();
    else if (this.state === ConnState.Closed) this.lingerOver(now, idleTimeoutMs);
    else if (this.state !== ConnState.Busy) return;
    else if (this.body?.attached && this.bodyUnread && now - this.since > bodyIdleTimeoutMs)
      this.socket.destroy();
    else if (this.running && this.running.idleFor(now) > bodyIdleTimeoutMs) this.running.abort();
  }

  /**
   * Destroys a closed connection once its linger is over and the answer has left the process; a
   * client that reads nothing of it gets the idle timeout, not more.
   */
  private lingerOver(now: number, idleTimeoutMs: number): void {
    const closedFor = now - this.since;
    if (closedFor > idleTimeoutMs || (closedFor > CLOSE_LINGER_MS && this.socket.writableLength === 0))
      this.socket.destroy();
  }
}
