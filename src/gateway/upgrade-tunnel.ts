/**
 * WebSocket (and any HTTP/1.1 Upgrade) through the gateway: the same route, policy and release
 * choice as a request, then a raw byte tunnel between client and backend. The tunnel counts as
 * in flight on its endpoint, so draining waits for it (up to the drain timeout).
 */
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { clientIpOf, PIN_HEADER, requestHeadersForBackend } from './forward-headers.js';
import type { HandlerContext } from './request-handler.js';
import { type Selection, selectEndpoint } from './service-pools.js';
import { stickyKeyFrom } from './sticky-cookie.js';

const REASONS: Record<number, string> = {
  401: 'Unauthorized',
  404: 'Not Found',
  429: 'Too Many Requests',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

function refuse(socket: Duplex, status: number, message: string): void {
  const body = `${JSON.stringify({ error: message })}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

/** Where an admitted upgrade goes; or the refusal to send. */
type Admission =
  | { ok: true; route: string; service: string; selection: Selection & { ok: true }; clientIp: string }
  | { ok: false; status: number; message: string };

/** The same route, rate-limit, auth and release choice as a plain request. */
async function admit(ctx: HandlerContext, req: IncomingMessage): Promise<Admission> {
  const match = ctx.table.match(req.headers.host, req.url ?? '/');
  if (!match) return { ok: false, status: 404, message: `no route for host ${req.headers.host ?? '(none)'}` };
  const policies = ctx.policies[match.index];
  const clientIp = clientIpOf(req.socket.remoteAddress);
  if (policies?.limiter && !policies.limiter.take(clientIp, ctx.now()).allowed)
    return { ok: false, status: 429, message: 'slow down: rate limit exceeded' };
  if (policies?.verifier) {
    const verdict = await policies.verifier.verify(req.headers.authorization);
    if (!verdict.ok) return { ok: false, status: 401, message: `authenticate: ${verdict.reason}` };
  }
  const service = match.route.service;
  const routing = ctx.routing.get(service);
  if (!routing)
    return { ok: false, status: 503, message: `service ${service} has no release taking traffic` };
  const pin = req.headers[PIN_HEADER];
  const selector = {
    pin: ctx.pinHeader && typeof pin === 'string' ? pin : undefined,
    stickyKey: stickyKeyFrom(req.headers.cookie),
    newKey: () => 'upgrade',
  };
  const selection = selectEndpoint(routing, selector, ctx.registry, ctx.now());
  if (!selection.ok) return { ok: false, status: 503, message: selection.reason };
  return { ok: true, route: String(match.index), service, selection, clientIp };
}

function requestHead(ctx: HandlerContext, req: IncomingMessage, clientIp: string): string {
  const headers = requestHeadersForBackend(req.rawHeaders, {
    clientIp,
    proto: 'http',
    trustForwarded: ctx.trustForwarded,
    keepUpgrade: true,
  });
  let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${text}\r\n`;
}

/** Handles the server's `upgrade` event. */
export async function handleUpgrade(ctx: HandlerContext, req: IncomingMessage, client: Duplex, head: Buffer) {
  client.on('error', () => client.destroy());
  const admission = await admit(ctx, req);
  if (!admission.ok) return refuse(client, admission.status, admission.message);
  const { endpoint, release } = admission.selection;
  const startedMs = performance.now();
  ctx.registry.acquire(endpoint);
  ctx.tunnels.add(client);
  const backend: Socket = connect(splitAddress(endpoint.address));
  backend.setTimeout(ctx.limits.connectTimeoutMs, () => backend.destroy(new Error('connect timeout')));
  let status = 101;
  backend.once('connect', () => {
    backend.setTimeout(0);
    backend.write(requestHead(ctx, req, admission.clientIp));
    if (head.length > 0) backend.write(head);
    backend.pipe(client);
    client.pipe(backend);
  });
  backend.on('error', () => {
    if (backend.bytesRead > 0) return client.destroy();
    status = 502;
    refuse(client, 502, `backend ${endpoint.id} failed`);
  });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    ctx.tunnels.delete(client);
    backend.destroy();
    if (status === 101) client.destroy(); // a refusal is still being written; `end` closes it
    ctx.registry.release(endpoint);
    const durationMs = performance.now() - startedMs;
    ctx.recorder.record(admission.route, admission.service, release, status, durationMs, ctx.now());
  };
  backend.once('close', close);
  client.once('close', close);
}
