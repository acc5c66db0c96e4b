/**
 * Forwarding one request to one backend over a keep-alive undici connection pool, streaming both
 * bodies with backpressure. The outcome says whether the backend ever answered, which decides
 * between a retry, a 502/504 and a cut connection.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { type Dispatcher, Pool as UndiciPool } from 'undici';
import { responseHeadersFromRaw } from './forward-headers.js';

export interface UpstreamOptions {
  connectTimeoutMs: number;
  bodyIdleTimeoutMs: number;
}

/** Keep-alive connection pools, one per backend address. */
export class Upstreams {
  private readonly pools = new Map<string, UndiciPool>();
  constructor(private readonly options: UpstreamOptions) {}

  for(address: string): UndiciPool {
    let pool = this.pools.get(address);
    if (!pool) {
      pool = new UndiciPool(`http://${address}`, {
        connect: { timeout: this.options.connectTimeoutMs },
        bodyTimeout: this.options.bodyIdleTimeoutMs,
        pipelining: 1,
      });
      this.pools.set(address, pool);
    }
    return pool;
  }

  /** Closes the pool of a backend that left every pool (idle sockets only; nothing is in flight). */
  forget(address: string): void {
    const pool = this.pools.get(address);
    if (!pool) return;
    this.pools.delete(address);
    pool.destroy().catch(() => {});
  }

  async closeAll(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => {})));
  }
}

export interface ForwardRequest {
  method: string;
  path: string;
  headers: string[];
  body: Readable | null;
  firstByteTimeoutMs: number;
}

/** `answered`: the backend sent a status line (the client already has it or part of the body). */
export interface ForwardResult {
  error: (Error & { code?: string }) | null;
  answered: boolean;
}

/** Called with the backend's status and cleaned headers; must write the response head. */
export type WriteHead = (status: number, headers: string[]) => void;

class ForwardHandler implements Dispatcher.DispatchHandlers {
  answered = false;
  private abortRequest: ((err?: Error) => void) | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly writeHead: WriteHead,
    private readonly finish: (result: ForwardResult) => void,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.abortRequest = abort;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // 100 Continue and friends: Node answers those to the client itself
    this.answered = true;
    this.writeHead(status, responseHeadersFromRaw(raw));
    this.res.on('drain', resume);
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  onComplete(): void {
    this.res.end();
    this.finish({ error: null, answered: true });
  }

  onError(err: Error): void {
    this.finish({ error: err, answered: this.answered });
  }

  /** The client went away: stop the backend request too. */
  abort(): void {
    this.abortRequest?.(Object.assign(new Error('client closed the connection'), { code: 'CLIENT_GONE' }));
  }
}

/** Sends a request to a backend and streams the answer into `res`. Never rejects. */
export function forward(
  pool: UndiciPool,
  req: ForwardRequest,
  res: ServerResponse,
  writeHead: WriteHead,
): { result: Promise<ForwardResult>; abort: () => void } {
  let settle!: (r: ForwardResult) => void;
  const result = new Promise<ForwardResult>((resolve) => {
    settle = resolve;
  });
  const handler = new ForwardHandler(res, writeHead, settle);
  pool.dispatch(
    {
      method: req.method as Dispatcher.HttpMethod,
      path: req.path,
      headers: req.headers,
      body: req.body,
      headersTimeout: req.firstByteTimeoutMs,
    },
    handler,
  );
  return { result, abort: () => handler.abort() };
}

/** True for failures where the request never reached a backend process (safe to send elsewhere). */
export function isConnectFailure(err: { code?: string }): boolean {
  return (
    err.code === 'ECONNREFUSED' ||
    err.code === 'UND_ERR_CONNECT_TIMEOUT' ||
    err.code === 'EHOSTUNREACH' ||
    err.code === 'ENETUNREACH' ||
    err.code === 'EADDRNOTAVAIL'
  );
}

/** True when the connection broke before any response byte (the backend may or may not have acted). */
export function isResetBeforeAnswer(result: ForwardResult): boolean {
  const code = result.error?.code;
  return !result.answered && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE');
}
