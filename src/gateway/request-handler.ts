/**
 * One HTTP request through the gateway: route, edge policies (rate limit, body size, JWT), release
 * and endpoint choice, forwarding with one retry for requests that are safe to resend, and a
 * metrics sample plus an access-log line when the response closes.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { EndpointRegistry, EndpointState } from './endpoint-registry.js';
import { clientIpOf, PIN_HEADER, requestHeadersForBackend } from './forward-headers.js';
import type { BearerVerifier } from './jwt-auth.js';
import { limitBody } from './limit-body.js';
import type { RouteTable } from './route-table.js';
import { type Selection, type ServiceRouting, selectEndpoint } from './service-pools.js';
import { stickyCookieHeader, stickyKeyFrom } from './sticky-cookie.js';
import type { TokenBucketLimiter } from './token-bucket.js';
import type { AccessLogEntry, GatewayLimits } from './types.js';
import {
  type ForwardResult,
  forward,
  isConnectFailure,
  isResetBeforeAnswer,
  type Upstreams,
} from './upstream.js';
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
  upstreams: Upstreams;
  recorder: MetricsRecorder;
  limits: GatewayLimits;
  pinHeader: boolean;
  stickyHeader: string | undefined;
  trustForwarded: boolean;
  accessLog: ((line: string) => void) | undefined;
  now: () => number;
  /** Called once per request when its response closes (the gateway counts open requests). */
  requestClosed: () => void;
  /** Open WebSocket/Upgrade tunnels, closed with the gateway. */
  tunnels: Set<{ destroy(): void }>;
}

/** What is known about a request so far, for its metrics sample and log line. */
interface Trace {
  route: string;
  service: string;
  release: string;
  endpoint: string;
  client: string;
  /** Status to record when the response could not be completed (backend broke mid-body). */
  status?: number;
  /** Cancels the backend request in progress, if any (the client went away). */
  abort?: () => void;
}

/** Serves one request; never throws (every failure becomes a status). */
export async function handleRequest(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const startedMs = performance.now();
  // The socket may be gone by the time the response closes, so take the address now.
  const client = clientIpOf(req.socket.remoteAddress);
  const trace: Trace = { route: '', service: '', release: '', endpoint: '', client };
  res.once('close', () => {
    if (!res.writableFinished) trace.abort?.();
    finishTrace(ctx, req, res, trace, startedMs);
  });
  const match = ctx.table.match(req.headers.host, req.url ?? '/');
  if (!match) return sendError(res, 404, `no route for host ${req.headers.host ?? '(none)'}`);
  trace.route = String(match.index);
  trace.service = match.route.service;
  const policies = ctx.policies[match.index];
  const refusal =
    checkLimits(ctx, req, client, match.route.maxBodyBytes, policies) ??
    (policies?.verifier ? await checkAuth(req, policies.verifier) : undefined);
  if (refusal) return sendError(res, refusal.status, refusal.message, refusal.headers);
  const routing = ctx.routing.get(match.route.service);
  if (!routing) return sendError(res, 503, `service ${match.route.service} has no release taking traffic`);
  const selector = {
    pin: ctx.pinHeader ? headerValue(req.headers[PIN_HEADER]) : undefined,
    stickyKey: stickyKeyOf(ctx, req),
    newKey: randomUUID,
  };
  const first = selectEndpoint(routing, selector, ctx.registry, ctx.now());
  if (!first.ok) return sendError(res, 503, first.reason);
  await proxy(ctx, req, res, trace, match.route.timeoutMs, match.route.maxBodyBytes, first, () =>
    selectEndpoint(routing, selector, ctx.registry, ctx.now(), first.endpoint),
  );
}

interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** Rate limit and declared body size: synchronous, so unauthenticated routes pay no extra tick. */
function checkLimits(
  ctx: HandlerContext,
  req: IncomingMessage,
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
  const declared = Number(req.headers['content-length'] ?? 0);
  if (maxBodyBytes !== undefined && declared > maxBodyBytes)
    return { status: 413, message: `send a smaller body: the limit is ${maxBodyBytes} bytes` };
  return undefined;
}

async function checkAuth(req: IncomingMessage, verifier: BearerVerifier): Promise<Refusal | undefined> {
  const verdict = await verifier.verify(req.headers.authorization);
  if (verdict.ok) return undefined;
  return {
    status: 401,
    message: `authenticate: ${verdict.reason}`,
    headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
  };
}

function stickyKeyOf(ctx: HandlerContext, req: IncomingMessage): string | undefined {
  const fromHeader = ctx.stickyHeader ? headerValue(req.headers[ctx.stickyHeader]) : undefined;
  return fromHeader || stickyKeyFrom(req.headers.cookie);
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The client spoke HTTPS to a trusted proxy in front of the gateway (then the cookie is `Secure`). */
function isHttps(ctx: HandlerContext, req: IncomingMessage): boolean {
  return ctx.trustForwarded && headerValue(req.headers['x-forwarded-proto']) === 'https';
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

async function proxy(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  trace: Trace,
  timeoutMs: number | undefined,
  maxBodyBytes: number | undefined,
  first: Selection & { ok: true },
  reselect: () => Selection,
): Promise<void> {
  const withBody = hasBody(req);
  const body: Readable | null = withBody ? limitBody(req, maxBodyBytes) : null;
  const headers = requestHeadersForBackend(req.rawHeaders, {
    clientIp: trace.client,
    proto: 'http',
    trustForwarded: ctx.trustForwarded,
  });
  const send = (s: Selection & { ok: true }) => attempt(ctx, req, res, trace, s, headers, body, timeoutMs);
  let result = await send(first);
  if (result.error && !result.answered && !withBody && retryable(req.method ?? 'GET', result)) {
    const second = reselect();
    if (second.ok) result = await send(second);
  }
  if (result.error) failResponse(res, trace, result);
}

function retryable(method: string, result: ForwardResult): boolean {
  if (isConnectFailure(result.error!)) return true;
  return IDEMPOTENT.has(method) && isResetBeforeAnswer(result);
}

/** One try on one endpoint, with in-flight accounting around it. */
async function attempt(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  trace: Trace,
  s: Selection & { ok: true },
  headers: string[],
  body: Readable | null,
  timeoutMs: number | undefined,
): Promise<ForwardResult> {
  const endpoint: EndpointState = s.endpoint;
  trace.release = s.release;
  trace.endpoint = endpoint.id;
  ctx.registry.acquire(endpoint);
  const writeHead = (status: number, backendHeaders: string[]) => {
    if (s.newStickyKey)
      backendHeaders.push('set-cookie', stickyCookieHeader(s.newStickyKey, isHttps(ctx, req)));
    res.writeHead(status, backendHeaders);
  };
  const request = {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers,
    body,
    firstByteTimeoutMs: timeoutMs ?? ctx.limits.firstByteTimeoutMs,
  };
  const call = forward(ctx.upstreams.for(endpoint.address), request, res, writeHead);
  trace.abort = call.abort;
  const result = await call.result;
  trace.abort = undefined;
  ctx.registry.release(endpoint);
  if (result.error && isConnectFailure(result.error)) ctx.registry.markDown(endpoint, ctx.now());
  return result;
}

function failResponse(res: ServerResponse, trace: Trace, result: ForwardResult): void {
  const code = result.error?.code;
  if (code === 'CLIENT_GONE' || res.destroyed) return;
  if (result.answered || res.headersSent) {
    trace.status = 502;
    res.destroy();
    return;
  }
  if (code === 'BODY_TOO_LARGE')
    sendError(res, 413, 'send a smaller body: the request body is over the limit');
  else if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT')
    sendError(res, 504, `backend ${trace.endpoint} did not answer in time`);
  else sendError(res, 502, `backend ${trace.endpoint} failed: ${code ?? 'error'}`);
}

/** A small JSON error answer; closes the connection when the request body was not read. */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  extra?: Record<string, string>,
): void {
  if (res.headersSent || res.destroyed) return;
  const body = `${JSON.stringify({ error: message })}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...extra,
  };
  if (!res.req.complete) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

function finishTrace(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  trace: Trace,
  startedMs: number,
): void {
  const durationMs = performance.now() - startedMs;
  ctx.requestClosed();
  const status = trace.status ?? (res.writableFinished ? res.statusCode : 499);
  ctx.recorder.record(trace.route, trace.service, trace.release, status, durationMs, ctx.now());
  if (!ctx.accessLog) return;
  const entry: AccessLogEntry = {
    time: new Date().toISOString(),
    method: req.method ?? '',
    host: req.headers.host ?? '',
    path: req.url ?? '',
    status,
    durationMs: Math.round(durationMs * 1000) / 1000,
    client: trace.client,
    ...(trace.service && { service: trace.service }),
    ...(trace.release && { release: trace.release }),
    ...(trace.endpoint && { endpoint: trace.endpoint }),
  };
  ctx.accessLog(JSON.stringify(entry));
}
