/**
 * WebSocket (and any HTTP/1.1 Upgrade) through the gateway: the same route, policy and release
 * choice as a request, then a raw byte tunnel between client and backend. The tunnel counts as
 * in flight on its endpoint, so draining waits for it (up to the drain timeout).
 */
import type { ClientConnection } from './client-connection.js';
import { backendRequestHead, PIN_HEADER } from './forward-headers.js';
import { headerOf, type RequestHead } from './http1.js';
import type { HandlerContext } from './request-handler.js';
import { type Selection, selectEndpoint } from './service-pools.js';
import { stickyKeyFrom } from './sticky-cookie.js';

/** Where an admitted upgrade goes; or the refusal to send. */
type Admission =
  | { ok: true; route: string; service: string; selection: Selection & { ok: true } }
  | { ok: false; status: number; message: string };

/** The same route, rate-limit, auth and release choice as a plain request. */
async function admit(ctx: HandlerContext, conn: ClientConnection, head: RequestHead): Promise<Admission> {
  const match = ctx.table.match(head.host, head.target);
  if (!match) return { ok: false, status: 404, message: `no route for host ${head.host ?? '(none)'}` };
  const policies = ctx.policies[match.index];
  if (policies?.limiter && !policies.limiter.take(conn.clientIp, ctx.now()).allowed)
    return { ok: false, status: 429, message: 'slow down: rate limit exceeded' };
  if (policies?.verifier) {
    const verdict = await policies.verifier.verify(headerOf(head, 'authorization'));
    if (!verdict.ok) return { ok: false, status: 401, message: `authenticate: ${verdict.reason}` };
  }
  const service = match.route.service;
  const routing = ctx.routing.get(service);
  if (!routing)
    return { ok: false, status: 503, message: `service ${service} has no release taking traffic` };
  const selector = {
    pin: ctx.pinHeader ? headerOf(head, PIN_HEADER) : undefined,
    stickyKey: stickyKeyFrom(headerOf(head, 'cookie')),
    newKey: () => 'upgrade',
  };
  const selection = selectEndpoint(routing, selector, ctx.registry, ctx.now());
  if (!selection.ok) return { ok: false, status: 503, message: selection.reason };
  return { ok: true, route: match.label, service, selection };
}

/** Serves an upgrade request: refuses it like a request, or tunnels the connection to a backend. */
export async function handleUpgrade(
  ctx: HandlerContext,
  conn: ClientConnection,
  head: RequestHead,
): Promise<void> {
  const admission = await admit(ctx, conn, head);
  if (!admission.ok) {
    conn.closeAfter = true;
    conn.answer(admission.status, admission.message);
    ctx.recorder.record('', '', '', admission.status, 0, ctx.now());
    return conn.done();
  }
  const { endpoint, release } = admission.selection;
  const startedMs = performance.now();
  const client = conn.socket;
  const early = conn.detach();
  ctx.registry.acquire(endpoint);
  ctx.tunnels.add(client);
  const { socket: backend, ready } = ctx.pool.dial(endpoint.address, endpoint.tlsId);
  backend.setTimeout(ctx.limits.connectTimeoutMs, () => backend.destroy(new Error('connect timeout')));
  let status = 101;
  backend.once(ready, () => {
    backend.setTimeout(0);
    const text = backendRequestHead(head, {
      host: head.host ?? conn.localAuthority,
      clientIp: conn.clientIp,
      proto: 'http',
      trustForwarded: ctx.trustForwarded,
      keepUpgrade: true,
    });
    backend.write(text, 'latin1');
    if (early) backend.write(early);
    backend.pipe(client);
    client.pipe(backend);
    if (client.isPaused()) client.resume();
  });
  backend.on('error', () => {
    if (backend.bytesRead > 0) return client.destroy();
    status = 502;
    conn.closeAfter = true;
    conn.answer(502, `backend ${endpoint.id} failed`);
    client.end();
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
