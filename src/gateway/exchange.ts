/**
 * One request forwarded on one backend connection and its answer streamed back to the client,
 * with backpressure both ways. The result says whether the backend ever answered, which decides
 * between a retry, a 502/504 and a cut connection. The connection goes back to the pool only
 * after a cleanly framed, complete exchange.
 */
import type { BackendConnection, BackendPool, BackendUser } from './backend-pool.js';
import { ChunkedScanner } from './chunked.js';
import type { ClientConnection, ClientListener } from './client-connection.js';
import { headEnd, parseResponseHead, type ResponseHead, responseHasBody } from './http1.js';

/** A backend response head larger than this is refused (502). */
const MAX_RESPONSE_HEAD = 64 * 1024;

/** How the response body is delimited on its way to the client. */
export type Framing = 'none' | 'length' | 'chunked' | 'dechunk' | 'close';

export interface ExchangeRequest {
  method: string;
  /** The request head for the backend, blank line included. */
  head: string;
  firstByteTimeoutMs: number;
  /** The client speaks HTTP/1.0 (chunked answers are decoded for it). */
  http10: boolean;
  /** Builds the client's response head (blank line included) from the backend's. */
  clientHead: (res: ResponseHead, framing: Framing) => string;
}

export interface ExchangeResult {
  error: (Error & { code?: string }) | null;
  /** The backend sent a final status line (the client has it, or part of the body). */
  answered: boolean;
  status: number;
}

enum Phase {
  Head,
  Body,
  Finished,
}

function error(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** One buffer holding a latin1 head followed by body bytes. */
function withHead(head: string, body: Buffer): Buffer {
  const bytes = Buffer.allocUnsafe(head.length + body.length);
  bytes.write(head, 0, 'latin1');
  body.copy(bytes, head.length);
  return bytes;
}

class Exchange implements BackendUser, ClientListener {
  private phase = Phase.Head;
  private answered = false;
  private status = 0;
  private framing: Framing = 'none';
  private remaining = 0;
  private scanner: ChunkedScanner | undefined;
  private pending: Buffer | null = null;
  /** The client's response head, waiting to leave together with the first body bytes. */
  private pendingHead: string | undefined;
  private reusable = true;
  /** The last time the backend sent anything (the gateway's sweep enforces the body idle timeout). */
  lastData = Date.now();

  constructor(
    private readonly conn: ClientConnection,
    private readonly backend: BackendConnection,
    private readonly pool: BackendPool,
    private readonly req: ExchangeRequest,
    private readonly settle: (r: ExchangeResult) => void,
  ) {}

  start(): void {
    this.backend.user = this;
    this.conn.listener = this;
    this.backend.socket.write(this.req.head, 'latin1');
    const body = this.conn.body;
    if (body && !body.complete) {
      body.onEnd = () => {
        if (body.error) this.fail(error(body.error, `request body: ${body.error}`));
      };
      this.conn.startBody((bytes) => this.phase === Phase.Finished || this.backend.socket.write(bytes));
    }
    this.backend.awaitFirstByte(this.req.firstByteTimeoutMs, () => {
      if (!this.answered) this.fail(error('FIRST_BYTE_TIMEOUT', 'backend did not answer in time'));
    });
  }

  onBackendData(d: Buffer): void {
    this.lastData = Date.now();
    if (this.phase === Phase.Head) this.readHead(d);
    else if (this.phase === Phase.Body) this.readBody(d);
  }

  private readHead(d: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, d]) : d;
    this.pending = null;
    for (;;) {
      const end = headEnd(buf);
      if (end < 0) {
        if (buf.length > MAX_RESPONSE_HEAD) this.fail(error('BAD_RESPONSE', 'response head is too large'));
        else this.pending = buf;
        return;
      }
      const res = this.parseHead(buf.toString('latin1', 0, end - 4));
      if (typeof res === 'string') {
        this.fail(error('BAD_RESPONSE', res));
        return;
      }
      const rest = buf.subarray(end);
      if (res.status >= 200) {
        this.begin(res, rest);
        return;
      }
      if (res.status === 101) {
        this.fail(error('BAD_RESPONSE', 'backend switched protocols unasked'));
        return;
      }
      // Interim answers (103 Early Hints) go to the client as they are; 100 was the gateway's own.
      if (res.status !== 100) this.conn.write(buf.subarray(0, end));
      if (rest.length === 0) return;
      buf = rest;
    }
  }

  private parseHead(text: string): ResponseHead | string {
    const last = this.backend.lastHead;
    if (last?.text === text) return last.head;
    const res = parseResponseHead(text);
    if (typeof res !== 'string') this.backend.lastHead = { text, head: res };
    return res;
  }

  private begin(res: ResponseHead, rest: Buffer): void {
    this.backend.firstByteCame();
    this.answered = true;
    this.status = res.status;
    this.reusable = res.keepAlive;
    if (!responseHasBody(this.req.method, res.status)) this.framing = 'none';
    else if (res.chunked) this.framing = this.req.http10 ? 'dechunk' : 'chunked';
    else if (res.contentLength >= 0) this.framing = 'length';
    else this.framing = 'close';
    if (this.framing === 'close' || this.framing === 'dechunk') this.conn.closeAfter = true;
    if (this.framing === 'chunked' || this.framing === 'dechunk') this.scanner = new ChunkedScanner();
    this.remaining = res.contentLength;
    this.phase = Phase.Body;
    const head = this.req.clientHead(res, this.framing);
    if (this.framing === 'none' || (this.framing === 'length' && this.remaining === 0)) {
      this.conn.write(head);
      if (rest.length > 0) this.reusable = false;
      this.complete();
      return;
    }
    if (rest.length === 0) {
      this.conn.write(head);
      return;
    }
    // Head and the first body bytes leave in one buffer (one write call for a small answer).
    this.pendingHead = head;
    this.readBody(rest);
    if (this.pendingHead !== undefined && (this.phase as Phase) !== Phase.Finished)
      this.conn.write(this.pendingHead);
    this.pendingHead = undefined;
  }

  private readBody(d: Buffer): void {
    let out: Buffer | undefined = d;
    let ended = false;
    if (this.framing === 'length') {
      const take = Math.min(this.remaining, d.length);
      if (take < d.length) {
        out = d.subarray(0, take);
        this.reusable = false;
      }
      this.remaining -= take;
      ended = this.remaining === 0;
    } else if (this.scanner) {
      const parts: Buffer[] = [];
      const end = this.scanner.scan(d, this.framing === 'dechunk' ? (p) => parts.push(p) : undefined);
      if (end === -2) {
        this.fail(error('BAD_RESPONSE', this.scanner.error ?? 'bad chunked body'));
        return;
      }
      if (end >= 0) {
        ended = true;
        if (end < d.length) this.reusable = false;
      }
      out = this.framing === 'dechunk' ? Buffer.concat(parts) : end >= 0 ? d.subarray(0, end) : d;
    }
    if (out.length > 0) {
      const bytes = this.pendingHead === undefined ? out : withHead(this.pendingHead, out);
      this.pendingHead = undefined;
      if (!this.conn.write(bytes)) this.backend.socket.pause();
    }
    if (ended) this.complete();
  }

  onBackendClose(err: (Error & { code?: string }) | undefined): void {
    if (this.phase === Phase.Finished) return;
    if (this.phase === Phase.Body && this.framing === 'close') {
      this.complete();
      return;
    }
    this.fail(err ?? error('ECONNRESET', 'backend closed the connection'));
  }

  onBackendDrain(): void {
    if (this.conn.socket.isPaused() && this.conn.bodyUnread) this.conn.socket.resume();
  }

  onClientDrain(): void {
    if (this.backend.socket.isPaused()) this.backend.socket.resume();
  }

  onClientClose(): void {
    this.fail(error('CLIENT_GONE', 'client closed the connection'));
  }

  /** Enforces the body idle timeout on the backend's answer. */
  idleFor(now: number): number {
    return this.phase === Phase.Body ? now - this.lastData : 0;
  }

  abort(): void {
    this.fail(error('BODY_IDLE_TIMEOUT', 'backend body stalled'));
  }

  private complete(): void {
    this.phase = Phase.Finished;
    this.backend.firstByteCame();
    this.backend.user = undefined;
    if (this.backend.socket.isPaused()) this.backend.socket.resume();
    if (this.reusable && !this.conn.bodyUnread && this.framing !== 'close') this.pool.release(this.backend);
    else this.backend.socket.destroy();
    this.settle({ error: null, answered: true, status: this.status });
  }

  private fail(err: Error & { code?: string }): void {
    if (this.phase === Phase.Finished) return;
    this.phase = Phase.Finished;
    this.backend.firstByteCame();
    this.backend.user = undefined;
    this.backend.socket.destroy();
    this.settle({ error: err, answered: this.answered, status: this.status });
  }
}

/** Forwards one request on `backend` and streams the answer to `conn`; `settle` is called once. */
export function startExchange(
  conn: ClientConnection,
  backend: BackendConnection,
  pool: BackendPool,
  req: ExchangeRequest,
  settle: (result: ExchangeResult) => void,
): void {
  const ex = new Exchange(conn, backend, pool, req, (r) => {
    conn.running = undefined;
    settle(r);
  });
  conn.running = ex;
  ex.start();
}
