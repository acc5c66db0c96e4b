/** The built-in gateway: an HTTP/1.1 reverse proxy implementing `TrafficRouter` on one listener. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ValidationError } from '../lib/index.js';
import { EndpointRegistry } from './endpoint-registry.js';
import { createBearerVerifier } from './jwt-auth.js';
import { type HandlerContext, handleRequest, type RoutePolicies, sendError } from './request-handler.js';
import { RouteTable } from './route-table.js';
import { buildRouting, validatePools } from './service-pools.js';
import { TokenBucketLimiter } from './token-bucket.js';
import type { Gateway, GatewayConfig, GatewayLimits, GatewayRoute, Pool, WindowMetrics } from './types.js';
import { handleUpgrade } from './upgrade-tunnel.js';
import { Upstreams } from './upstream.js';
import { MetricsRecorder, type MetricsSnapshot } from './window-metrics.js';

/** Limits used where the config gives none. */
export const DEFAULT_LIMITS: GatewayLimits = {
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  connectTimeoutMs: 2_000,
  firstByteTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 60_000,
};
/** Longest time a client may take to send a whole request (head and body). */
const REQUEST_TIMEOUT_MS = 300_000;
/** How often Node checks connections against the header and request timeouts. */
const TIMEOUT_CHECK_MS = 1_000;
const DEFAULT_CLOSE_GRACE_MS = 10_000;

const CLIENT_ERROR_REASON: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

function parseListen(listen: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    throw new ValidationError(
      `start gateway: listen address ${JSON.stringify(listen)} is not host:port`,
      [],
      {
        hint: 'set environments.<env>.gateway.listen to e.g. 127.0.0.1:8080',
      },
    );
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function policiesFor(route: GatewayRoute): RoutePolicies {
  const policies: RoutePolicies = {};
  if (route.rateLimit) policies.limiter = new TokenBucketLimiter(route.rateLimit.rps, route.rateLimit.burst);
  if (route.auth) policies.verifier = createBearerVerifier(route.auth);
  return policies;
}

class BuiltinGateway implements Gateway {
  readonly kind = 'builtin';
  private readonly ctx: HandlerContext;
  private readonly server: Server;
  private readonly bind: { host: string; port: number };
  private active = 0;
  private idleWaiter: (() => void) | undefined;

  constructor(config: GatewayConfig) {
    this.bind = parseListen(config.listen);
    const limits = { ...DEFAULT_LIMITS, ...config.limits };
    this.ctx = {
      table: new RouteTable(config.routes),
      policies: config.routes.map(policiesFor),
      routing: new Map(),
      registry: new EndpointRegistry(),
      upstreams: new Upstreams(limits),
      recorder: new MetricsRecorder(),
      limits,
      pinHeader: config.pinHeader ?? true,
      stickyHeader: config.stickyHeader?.toLowerCase(),
      trustForwarded: config.trustForwarded ?? false,
      accessLog: config.accessLog,
      now: config.now ?? Date.now,
      tunnels: new Set(),
      requestClosed: () => {
        this.active--;
        if (this.active === 0) this.idleWaiter?.();
      },
    };
    this.server = this.createServer(limits);
  }

  private createServer(limits: GatewayLimits): Server {
    const server = createServer({
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(REQUEST_TIMEOUT_MS, limits.headersTimeoutMs),
      keepAliveTimeout: limits.idleTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_MS,
      noDelay: true,
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      handleUpgrade(this.ctx, req, socket, head).catch(() => socket.destroy());
    });
    server.on('clientError', (err: Error & { code?: string }, socket: Duplex) =>
      this.onClientError(err, socket),
    );
    return server;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.active++;
    handleRequest(this.ctx, req, res).catch((err: unknown) => {
      // A bug must cost one request, never the gateway.
      this.ctx.accessLog?.(
        JSON.stringify({ level: 'error', msg: 'gateway request failed', error: String(err) }),
      );
      if (res.headersSent) res.destroy();
      else sendError(res, 500, 'gateway error: see the gateway log');
    });
  }

  /** Malformed requests, oversized heads and slow clients get their status, then the socket closes. */
  private onClientError(err: Error & { code?: string }, socket: Duplex): void {
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const pending = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
      socket.destroy();
      return;
    }
    this.ctx.recorder.record('', '', '', status, 0, this.ctx.now());
    socket.end(
      `HTTP/1.1 ${status} ${CLIENT_ERROR_REASON[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
    );
  }

  setPools(service: string, pools: Pool[]): void {
    validatePools(service, pools);
    this.ctx.routing.set(service, buildRouting(pools, this.ctx.registry));
    this.prune();
  }

  async drain(endpointId: string, timeoutMs?: number): Promise<void> {
    await this.ctx.registry.drain(endpointId, timeoutMs);
    this.prune();
  }

  metrics(service: string, release: string, windowMs: number): WindowMetrics {
    return this.ctx.recorder.query(service, release, windowMs, this.ctx.now());
  }

  snapshot(): MetricsSnapshot {
    return this.ctx.recorder.snapshot();
  }

  /** Closes connection pools of endpoints no pool names any more and nothing uses. */
  private prune(): void {
    const named = new Set<string>();
    for (const routing of this.ctx.routing.values())
      for (const states of routing.endpoints.values()) for (const s of states) named.add(s.id);
    const gone = this.ctx.registry.prune(named);
    this.ctx.recorder.forgetIdle(this.ctx.now());
    const stillUsed = new Set<string>();
    for (const routing of this.ctx.routing.values())
      for (const states of routing.endpoints.values()) for (const s of states) stillUsed.add(s.address);
    for (const address of gone) if (!stillUsed.has(address)) this.ctx.upstreams.forget(address);
  }

  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.bind.port, this.bind.host, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? `${this.bind.host}:${addr.port}` : String(addr));
      });
    });
  }

  async close(graceMs = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.active > 0)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idleWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    this.server.closeAllConnections();
    for (const tunnel of this.ctx.tunnels) tunnel.destroy();
    await closed;
    await this.ctx.upstreams.closeAll();
  }
}

/**
 * Creates the built-in gateway for one environment; call `listen()` to start it.
 * @example
 * const gw = createGateway({ listen: '127.0.0.1:8080', routes: spec.routes });
 * await gw.listen();
 * gw.setPools('hello', [{ release: 'rel-1', weight: 100, endpoints: [{ id: 'ins-1', address: '127.0.0.1:9001' }] }]);
 */
export function createGateway(config: GatewayConfig): Gateway {
  return new BuiltinGateway(config);
}
