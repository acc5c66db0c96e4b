/**
 * One HTTP request through the gateway: route, edge policies (rate limit, body size, JWT), release
 * and endpoint choice, forwarding with one retry for requests that are safe to resend, and a
 * metrics sample plus an access-log line when the answer is done.
 */
import { randomUUID } from 'node:crypto';
import type { BackendConnection, BackendPool } from './backend-pool.js';
import { type ClientConnection, ConnState } from './client-connection.js';
import type { EndpointRegistry, EndpointState } from './endpoint-registry.js';
import { type ExchangeResult, runExchange } from './exchange.js';
import { backendRequestHead, clientResponseHead, PIN_HEADER } from './forward-headers.js';
import { headerOf, type RequestHead } from './http1.js';
import type { BearerVerifier } from './jwt-auth.js';
import type { RouteTable } from './route-table.js';
import { type Selection, type ServiceRouting, selectEndpoint } from './service-pools.js';
import { stickyCookieHeader, stickyKeyFrom } from './sticky-cookie.js';
import type { TokenBucketLimiter } from './token-bucket.js';
import type { AccessLogEntry, GatewayLimits } from './types.js';
import type { MetricsRecorder } from './window-metrics.js';

/** Methods that may be sent twice (RFC 9110 §9.2.2) and so may be retried on another endpoint. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

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
export async function handleRequest(
  ctx: HandlerContext,
  conn: ClientConnection,
  head: RequestHead,
): Promise<void> {
  const startedMs = performance.now();
  const trace: Trace = { route: '', service: '', release: '', endpoint: '', status: 0 };
  try {
    await serve(ctx, conn, head, trace);
  } catch (err) {
    // A bug must cost one request, never the gateway.
    ctx.accessLog?.(JSON.stringify({ level: 'error', msg: 'gateway request failed', error: String(err) }));
    if (trace.status === 0) conn.answer(500, 'gateway error: see the gateway log');
    else conn.socket.destroy();
    trace.status = 500;
  } finally {
    finishTrace(ctx, conn, head, trace, startedMs);
    conn.done();
  }
}

async function serve(
  ctx: HandlerContext,
  conn: ClientConnection,
  head: RequestHead,
  trace: Trace,
): Promise<void> {
  const answer = (status: number, message: string, extra?: Record<string, string>) => {
    trace.status = status;
    conn.answer(status, message, extra);
  };
  const match = ctx.table.match(head.host, head.target);
  if (!match) return answer(404, `no route for host ${head.host ?? '(none)'}`);
  trace.route = String(match.index);
  trace.service = match.route.service;
  const policies = ctx.policies[match.index];
  const refusal =
    checkLimits(ctx, head, conn.clientIp, match.route.maxBodyBytes, policies) ??
    (policies?.verifier ? await checkAuth(head, policies.verifier) : undefined);
  if (refusal) return answer(refusal.status, refusal.message, refusal.headers);
  const routing = ctx.routing.get(match.route.service);
  if (!routing) return answer(503, `service ${match.route.service} has no release taking traffic`);
  const selector = {
    pin: ctx.pinHeader ? headerOf(head, PIN_HEADER) : undefined,
    stickyKey: stickyKeyOf(ctx, head),
    newKey: randomUUID,
  };
  const first = selectEndpoint(routing, selector, ctx.registry, ctx.now());
  if (!first.ok) return answer(503, first.reason);
  if (conn.state === ConnState.Closed) {
    trace.status = 499; // the client left while its request was being checked
    return;
  }
  if (conn.body) conn.body.maxBytes = match.route.maxBodyBytes;
  const result = await proxy(ctx, conn, head, trace, match.route.timeoutMs, first, () =>
    selectEndpoint(routing, selector, ctx.registry, ctx.now(), first.endpoint),
  );
  if (result.error) failResponse(conn, trace, result);
  else trace.status = result.status;
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

async function checkAuth(head: RequestHead, verifier: BearerVerifier): Promise<Refusal | undefined> {
  const verdict = await verifier.verify(headerOf(head, 'authorization'));
  if (verdict.ok) return undefined;
  return {
    status: 401,
    message: `authenticate: ${verdict.reason}`,
    headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
  };
}

function stickyKeyOf(ctx: HandlerContext, head: RequestHead): string | undefined {
  const fromHeader = ctx.stickyHeader ? headerOf(head, ctx.stickyHeader) : undefined;
  return fromHeader || stickyKeyFrom(headerOf(head, 'cookie'));
}

/** The client spoke HTTPS to a trusted proxy in front of the gateway (then the cookie is `Secure`). */
function isHttps(ctx: HandlerContext, head: RequestHead): boolean {
  return ctx.trustForwarded && headerOf(head, 'x-forwarded-proto') === 'https';
}

async function proxy(
  ctx: HandlerContext,
  conn: ClientConnection,
  head: RequestHead,
  trace: Trace,
  timeoutMs: number | undefined,
  first: Selection & { ok: true },
  reselect: () => Selection,
): Promise<ExchangeResult> {
  const withBody = conn.body !== undefined;
  const backendHead = backendRequestHead(head, {
    clientIp: conn.clientIp,
    proto: 'http',
    trustForwarded: ctx.trustForwarded,
  });
  if (head.expectContinue && withBody) conn.write('HTTP/1.1 100 Continue\r\n\r\n');
  const send = (s: Selection & { ok: true }) => attempt(ctx, conn, head, trace, s, backendHead, timeoutMs);
  let result = await send(first);
  if (result.error && !result.answered && !withBody && retryable(head.method, result)) {
    const second = reselect();
    if (second.ok) result = await send(second);
  }
  return result;
}

function retryable(method: string, result: ExchangeResult): boolean {
  if (isConnectFailure(result.error!)) return true;
  return IDEMPOTENT.has(method) && isResetBeforeAnswer(result);
}

/** True for failures where the request never reached a backend process (safe to send elsewhere). */
export function isConnectFailure(err: { code?: string }): boolean {
  return (
    err.code === 'ECONNREFUSED' ||
    err.code === 'CONNECT_TIMEOUT' ||
    err.code === 'EHOSTUNREACH' ||
    err.code === 'ENETUNREACH' ||
    err.code === 'EADDRNOTAVAIL'
  );
}

/** True when the connection broke before any response byte (the backend may or may not have acted). */
function isResetBeforeAnswer(result: ExchangeResult): boolean {
  const code = result.error?.code;
  return !result.answered && (code === 'ECONNRESET' || code === 'EPIPE');
}

function connectTo(
  pool: BackendPool,
  address: string,
): Promise<BackendConnection | (Error & { code?: string })> {
  return new Promise((resolve) => pool.acquire(address, (err, conn) => resolve(err ?? conn!)));
}

/** One try on one endpoint, with in-flight accounting around it. */
async function attempt(
  ctx: HandlerContext,
  conn: ClientConnection,
  head: RequestHead,
  trace: Trace,
  s: Selection & { ok: true },
  backendHead: string,
  timeoutMs: number | undefined,
): Promise<ExchangeResult> {
  const endpoint: EndpointState = s.endpoint;
  trace.release = s.release;
  trace.endpoint = endpoint.id;
  ctx.registry.acquire(endpoint);
  let result: ExchangeResult;
  const backend = await connectTo(ctx.pool, endpoint.address);
  if (backend instanceof Error) result = { error: backend, answered: false, status: 0 };
  else {
    const setCookie = s.newStickyKey ? stickyCookieHeader(s.newStickyKey, isHttps(ctx, head)) : undefined;
    result = await runExchange(
      conn,
      backend,
      ctx.pool,
      {
        method: head.method,
        head: backendHead,
        firstByteTimeoutMs: timeoutMs ?? ctx.limits.firstByteTimeoutMs,
        http10: head.minor === 0,
        clientHead: (res, framing) =>
          clientResponseHead(res, { chunked: framing === 'chunked', close: conn.closeAfter, setCookie }),
      },
      (running) => {
        conn.running = running;
      },
    );
  }
  ctx.registry.release(endpoint);
  if (result.error && isConnectFailure(result.error)) ctx.registry.markDown(endpoint, ctx.now());
  return result;
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
  ctx.recorder.record(trace.route, trace.service, trace.release, status, durationMs, ctx.now());
  if (!ctx.accessLog) return;
  const entry: AccessLogEntry = {
    time: new Date().toISOString(),
    method: head.method,
    host: head.host ?? '',
    path: head.target,
    status,
    durationMs: Math.round(durationMs * 1000) / 1000,
    client: conn.clientIp,
    ...(trace.service && { service: trace.service }),
    ...(trace.release && { release: trace.release }),
    ...(trace.endpoint && { endpoint: trace.endpoint }),
  };
  ctx.accessLog(JSON.stringify(entry));
}
