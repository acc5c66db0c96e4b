/**
 * One HTTP request through the gateway: route, edge policies (rate limit, body size, JWT), release
 * and endpoint choice, forwarding with one retry for requests that are safe to resend, and a
 * metrics sample plus an access-log line when the answer is done.
 */
import { randomUUID } from 'node:crypto';
import type { BackendPool } from './backend-pool.js';
import { type ClientConnection, ConnState } from './client-connection.js';
import type { EndpointRegistry } from './endpoint-registry.js';
import { type ExchangeRequest, type ExchangeResult, startExchange } from './exchange.js';
import { backendRequestHead, clientResponseHead, PIN_HEADER } from './forward-headers.js';
import { headerOf, type RequestHead } from './http1.js';
import type { BearerVerifier } from './jwt-auth.js';
import { isConnectFailure, retryable } from './retry-rules.js';
import type { RouteTable } from './route-table.js';
import { type Selection, type Selector, type ServiceRouting, selectEndpoint } from './service-pools.js';
import { stickyCookieHeader, stickyKeyFrom } from './sticky-cookie.js';
import type { TokenBucketLimiter } from './token-bucket.js';
import type { AccessLogEntry, GatewayLimits } from './types.js';
import type { MetricsRecorder } from './window-metrics.js';

/** Methods that may be sent twice (RFC 9110 §9.2.2) and so may be retried on another endpoint. */

/** Policies of one route, built once from its spec. */
export interface RoutePolicies {
  limiter?: TokenBucketLimiter;
  verifier?: BearerVerifier;
}

/** Everything a request needs; owned by the gateway, shared by all requests. */
export interface HandlerContext {
  table: RouteTable;
  policies: RoutePolicies[];
  routing: Map<string, ServiceRouting>;
  registry: EndpointRegistry;
  pool: BackendPool;
  recorder: MetricsRecorder;
  limits: GatewayLimits;
  pinHeader: boolean;
  stickyHeader: string | undefined;
  trustForwarded: boolean;
  accessLog: ((line: string) => void) | undefined;
  now: () => number;
  /** Open WebSocket/Upgrade tunnels, closed with the gateway. */
  tunnels: Set<{ destroy(): void }>;
}

/** What is known about a request so far, for its metrics sample and log line. */
interface Trace {
  route: string;
  service: string;
  release: string;
  endpoint: string;
  status: number;
}

/** Serves one request and ends it with `conn.done()`; never throws (every failure becomes a status). */
export function handleRequest(ctx: HandlerContext, conn: ClientConnection, head: RequestHead): void {
  new ProxiedRequest(ctx, conn, head).run();
}

/**
 * One request on its way through: plain callbacks rather than promises, because this path runs
 * for every request and each promise costs the gateway throughput.
 */
class ProxiedRequest {
  private readonly startedMs = performance.now();
  private readonly trace: Trace = { route: '', service: '', release: '', endpoint: '', status: 0 };
  private routing: ServiceRouting | undefined;
  private selector: Selector | undefined;
  private timeoutMs: number | undefined;
  private backendHead = '';
  private finished = false;

  constructor(
    private readonly ctx: HandlerContext,
    private readonly conn: ClientConnection,
    private readonly head: RequestHead,
  ) {}

  run(): void {
    this.guard(() => this.route());
  }

  /** Runs a step; a bug must cost one request, never the gateway. */
  private guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      this.ctx.accessLog?.(
        JSON.stringify({ level: 'error', msg: 'gateway request failed', error: String(err) }),
      );
      if (this.trace.status === 0) this.conn.answer(500, 'gateway error: see the gateway log');
      else this.conn.socket.destroy();
      this.trace.status = 500;
      this.finish();
    }
  }

  private answer(status: number, message: string, extra?: Record<string, string>): void {
    this.trace.status = status;
    this.conn.answer(status, message, extra);
    this.finish();
  }

  private route(): void {
    const { ctx, head, trace } = this;
    const match = ctx.table.match(head.host, head.target);
    if (!match) {
      this.answer(404, `no route for host ${head.host ?? '(none)'}`);
      return;
    }
    trace.route = match.label;
    trace.service = match.route.service;
    this.timeoutMs = match.route.timeoutMs;
    if (this.conn.body) this.conn.body.maxBytes = match.route.maxBodyBytes;
    const policies = ctx.policies[match.index];
    const refusal = checkLimits(ctx, head, this.conn.clientIp, match.route.maxBodyBytes, policies);
    if (refusal) {
      this.answer(refusal.status, refusal.message, refusal.headers);
      return;
    }
    if (!policies?.verifier) {
      this.select();
      return;
    }
    policies.verifier.verify(headerOf(head, 'authorization')).then(
      (verdict) =>
        this.guard(() => {
          if (verdict.ok) return this.select();
          this.answer(401, `authenticate: ${verdict.reason}`, {
            'www-authenticate': 'Bearer error="invalid_token"',
          });
        }),
      (err: unknown) =>
        this.guard(() => {
          throw err;
        }),
    );
  }

  private select(): void {
    const { ctx, head, trace } = this;
    const routing = ctx.routing.get(trace.service);
    if (!routing) {
      this.answer(503, `service ${trace.service} has no release taking traffic`);
      return;
    }
    if (this.conn.state === ConnState.Closed) {
      trace.status = 499; // the client left while its request was being checked
      this.finish();
      return;
    }
    this.routing = routing;
    this.selector = {
      pin: ctx.pinHeader ? headerOf(head, PIN_HEADER) : undefined,
      stickyKey: stickyKeyOf(ctx, head),
      newKey: randomUUID,
    };
    const first = selectEndpoint(routing, this.selector, ctx.registry, ctx.now());
    if (!first.ok) {
      this.answer(503, first.reason);
      return;
    }
    this.backendHead = backendRequestHead(head, {
      host: head.host ?? this.conn.localAuthority,
      clientIp: this.conn.clientIp,
      proto: 'http',
      trustForwarded: ctx.trustForwarded,
    });
    if (head.expectContinue && this.conn.body) this.conn.write('HTTP/1.1 100 Continue\r\n\r\n');
    this.send(first, true);
  }

  /** One try on one endpoint, with in-flight accounting around it. */
  private send(s: Selection & { ok: true }, first: boolean): void {
    const { ctx, trace } = this;
    const endpoint = s.endpoint;
    trace.release = s.release;
    trace.endpoint = endpoint.id;
    ctx.registry.acquire(endpoint);
    ctx.pool.acquire(
      endpoint.address,
      (err, backend) =>
        this.guard(() => {
          if (err || !backend) return this.sent(s, first, { error: err, answered: false, status: 0 });
          startExchange(this.conn, backend, ctx.pool, this.exchangeRequest(s), (result) =>
            this.guard(() => this.sent(s, first, result)),
          );
        }),
      endpoint.tlsId,
    );
  }

  private exchangeRequest(s: Selection & { ok: true }): ExchangeRequest {
    const { ctx, head, conn } = this;
    const setCookie = s.newStickyKey ? stickyCookieHeader(s.newStickyKey, isHttps(ctx, head)) : undefined;
    return {
      method: head.method,
      head: this.backendHead,
      firstByteTimeoutMs: this.timeoutMs ?? ctx.limits.firstByteTimeoutMs,
      http10: head.minor === 0,
      clientHead: (res, framing) => {
        const chunked = framing === 'chunked';
        // The common head (a backend's repeated answer, nothing added) is built once per parsed head.
        if (!chunked && !conn.closeAfter && !setCookie) {
          res.plainClientHead ??= clientResponseHead(res, { chunked, close: false });
          return res.plainClientHead;
        }
        return clientResponseHead(res, { chunked, close: conn.closeAfter, setCookie });
      },
    };
  }

  private sent(s: Selection & { ok: true }, first: boolean, result: ExchangeResult): void {
    const { ctx } = this;
    ctx.registry.release(s.endpoint);
    const error = result.error;
    if (error && isConnectFailure(error)) ctx.registry.markDown(s.endpoint, ctx.now());
    if (error && first && !result.answered && !this.conn.body && retryable(this.head.method, result)) {
      const second = selectEndpoint(this.routing!, this.selector!, ctx.registry, ctx.now(), s.endpoint);
      if (second.ok) {
        this.send(second, false);
        return;
      }
    }
    if (error) failResponse(this.conn, this.trace, result);
    else this.trace.status = result.status;
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    finishTrace(this.ctx, this.conn, this.head, this.trace, this.startedMs);
    this.conn.done();
  }
}

interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** Rate limit and declared body size: synchronous, so unauthenticated routes pay no extra tick. */
function checkLimits(
  ctx: HandlerContext,
  head: RequestHead,
  client: string,
  maxBodyBytes: number | undefined,
  policies: RoutePolicies | undefined,
): Refusal | undefined {
  if (policies?.limiter) {
    const decision = policies.limiter.take(client, ctx.now());
    if (!decision.allowed)
      return {
        status: 429,
        message: 'slow down: rate limit exceeded',
        headers: { 'retry-after': String(decision.retryAfterS) },
      };
  }
  if (maxBodyBytes !== undefined && head.contentLength > maxBodyBytes)
    return { status: 413, message: `send a smaller body: the limit is ${maxBodyBytes} bytes` };
  return undefined;
}

function stickyKeyOf(ctx: HandlerContext, head: RequestHead): string | undefined {
  const fromHeader = ctx.stickyHeader ? headerOf(head, ctx.stickyHeader) : undefined;
  return fromHeader || stickyKeyFrom(headerOf(head, 'cookie'));
}

/** The client spoke HTTPS to a trusted proxy in front of the gateway (then the cookie is `Secure`). */
function isHttps(ctx: HandlerContext, head: RequestHead): boolean {
  return ctx.trustForwarded && headerOf(head, 'x-forwarded-proto') === 'https';
}

function failResponse(conn: ClientConnection, trace: Trace, result: ExchangeResult): void {
  const code = result.error?.code;
  if (code === 'CLIENT_GONE') {
    trace.status = 499;
    return;
  }
  if (result.answered) {
    trace.status = 502;
    conn.socket.destroy();
    return;
  }
  const answer = (status: number, message: string) => {
    trace.status = status;
    conn.answer(status, message);
  };
  if (code === 'BODY_TOO_LARGE') answer(413, 'send a smaller body: the request body is over the limit');
  else if (code === 'BAD_CHUNK') answer(400, 'send a correctly chunked body');
  else if (code === 'FIRST_BYTE_TIMEOUT' || code === 'CONNECT_TIMEOUT')
    answer(504, `backend ${trace.endpoint} did not answer in time`);
  else answer(502, `backend ${trace.endpoint} failed: ${code ?? 'error'}`);
}

function finishTrace(
  ctx: HandlerContext,
  conn: ClientConnection,
  head: RequestHead,
  trace: Trace,
  startedMs: number,
): void {
  const durationMs = performance.now() - startedMs;
  const status = trace.status || 500;
  const now = ctx.now();
  ctx.recorder.record(trace.route, trace.service, trace.release, status, durationMs, now);
  if (!ctx.accessLog) return;
  // Built field by field (no spreads): this runs for every request.
  const entry: AccessLogEntry = {
    time: new Date(now).toISOString(),
    method: head.method,
    host: head.host ?? '',
    path: head.target,
    status,
    durationMs: Math.round(durationMs * 1000) / 1000,
    client: conn.clientIp,
  };
  if (trace.service) entry.service = trace.service;
  if (trace.release) entry.release = trace.release;
  if (trace.endpoint) entry.endpoint = trace.endpoint;
  ctx.accessLog(JSON.stringify(entry));
}
