/** The built-in gateway: an HTTP/1.1 reverse proxy implementing `TrafficRouter` on one listener. */
import { createServer, type Server, type Socket } from 'node:net';
import { BackendPool } from './backend-pool.js';
import { type GatewayIdentity, loadBackendIdentity } from './backend-tls.js';
import { ClientConnection, type ConnectionHost, ConnState } from './client-connection.js';
import { ClientCounts } from './client-counts.js';
import { EndpointRegistry } from './endpoint-registry.js';
import { HaproxyGateway } from './haproxy/haproxy-gateway.js';
import type { RequestHead } from './http1.js';
import { createBearerVerifier } from './jwt-auth.js';
import { parseListen } from './listen-address.js';
import { type HandlerContext, handleRequest, type RoutePolicies } from './request-handler.js';
import { RouteTable } from './route-table.js';
import { buildRouting, validatePools } from './service-pools.js';
import { TokenBucketLimiter } from './token-bucket.js';
import type {
  Gateway,
  GatewayConfig,
  GatewayLimits,
  GatewayRoute,
  InflightGateway,
  Pool,
  WindowMetrics,
} from './types.js';
import { handleUpgrade } from './upgrade-tunnel.js';
import { MetricsRecorder, type MetricsSnapshot, type RecorderExport } from './window-metrics.js';

/** Limits used where the config gives none. */
export const DEFAULT_LIMITS: GatewayLimits = {
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  connectTimeoutMs: 2_000,
  firstByteTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 60_000,
  maxConnectionsPerClient: 256,
};
/** How often connections are checked against the head, idle and body timeouts. */
const SWEEP_MS = 1_000;
const DEFAULT_CLOSE_GRACE_MS = 10_000;

function policiesFor(route: GatewayRoute): RoutePolicies {
  const policies: RoutePolicies = {};
  if (route.rateLimit) policies.limiter = new TokenBucketLimiter(route.rateLimit.rps, route.rateLimit.burst);
  if (route.auth) policies.verifier = createBearerVerifier(route.auth);
  return policies;
}

class BuiltinGateway implements InflightGateway, ConnectionHost {
  readonly kind = 'builtin';
  readonly limits: GatewayLimits;
  readonly clients = new ClientCounts();
  private readonly ctx: HandlerContext;
  private readonly server: Server;
  private readonly bind: { host: string; port: number };
  private readonly connections = new Set<ClientConnection>();
  private sweeper: NodeJS.Timeout | undefined;
  private idleWaiter: (() => void) | undefined;

  constructor(config: GatewayConfig) {
    this.bind = parseListen(config.listen);
    this.limits = { ...DEFAULT_LIMITS, ...config.limits };
    this.ctx = {
      table: new RouteTable(config.routes),
      policies: config.routes.map(policiesFor),
      routing: new Map(),
      registry: new EndpointRegistry(),
      pool: new BackendPool(this.limits.connectTimeoutMs),
      recorder: new MetricsRecorder(),
      limits: this.limits,
      pinHeader: config.pinHeader ?? true,
      stickyHeader: config.stickyHeader?.toLowerCase(),
      trustForwarded: config.trustForwarded ?? false,
      accessLog: config.accessLog,
      now: config.now ?? Date.now,
      tunnels: new Set(),
    };
    this.server = createServer({ noDelay: true }, (socket: Socket) => {
      this.connections.add(new ClientConnection(socket, this));
    });
  }

  serve(conn: ClientConnection, head: RequestHead): void {
    if (head.upgrade) {
      this.connections.delete(conn);
      handleUpgrade(this.ctx, conn, head).catch(() => conn.socket.destroy());
    } else handleRequest(this.ctx, conn, head);
  }

  refused(status: number): void {
    this.ctx.recorder.record('', '', '', status, 0, this.ctx.now());
  }

  closed(conn: ClientConnection): void {
    this.connections.delete(conn);
    this.checkIdle();
  }

  private busy(): number {
    let n = 0;
    for (const c of this.connections) if (c.state === ConnState.Busy) n++;
    return n;
  }

  private checkIdle(): void {
    if (this.idleWaiter && this.busy() === 0) this.idleWaiter();
  }

  setPools(service: string, pools: Pool[]): void {
    validatePools(service, pools);
    this.ctx.routing.set(service, buildRouting(pools, this.ctx.registry));
    this.prune();
  }

  setIdentity(identity: GatewayIdentity): void {
    this.ctx.pool.setIdentity(loadBackendIdentity(identity));
  }

  async setRoutes(routes: GatewayRoute[]): Promise<void> {
    // Both built before either is assigned (a bad route changes nothing), then one assignment each,
    // between two requests (this is one thread): a request sees either table.
    const table = new RouteTable(routes);
    const policies = routes.map(policiesFor);
    this.ctx.table = table;
    this.ctx.policies = policies;
    const routed = new Set(routes.map((r) => r.service));
    for (const service of this.ctx.routing.keys()) if (!routed.has(service)) this.ctx.routing.delete(service);
    this.prune();
  }

  async drain(endpointId: string, timeoutMs?: number): Promise<void> {
    await this.ctx.registry.drain(endpointId, timeoutMs);
    this.prune();
  }

  metrics(service: string, release: string, windowMs: number): WindowMetrics {
    return this.ctx.recorder.query(service, release, windowMs, this.ctx.now());
  }

  exportMetrics(sinceSecond: number): RecorderExport {
    return this.ctx.recorder.exportSince(sinceSecond);
  }

  snapshot(): MetricsSnapshot {
    return this.ctx.recorder.snapshot();
  }

  inflight(): Record<string, number> {
    return this.ctx.registry.inflight();
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
    for (const address of gone) if (!stillUsed.has(address)) this.ctx.pool.forget(address);
  }

  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.bind.port, this.bind.host, () => {
        this.server.off('error', reject);
        this.sweeper = setInterval(() => {
          const now = Date.now();
          for (const c of this.connections) c.sweep(now);
        }, SWEEP_MS);
        this.sweeper.unref();
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? `${this.bind.host}:${addr.port}` : String(addr));
      });
    });
  }

  async close(graceMs = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) {
      c.closeAfter = true;
      if (c.state !== ConnState.Busy) c.socket.end();
    }
    if (this.busy() > 0)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idleWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    clearInterval(this.sweeper);
    for (const c of this.connections) c.socket.destroy();
    for (const tunnel of this.ctx.tunnels) tunnel.destroy();
    await closed;
    this.ctx.pool.closeAll();
  }
}

/**
 * Creates the gateway of one environment with the engine its config names (built-in unless
 * `engine: 'haproxy'`); call `listen()` to start it.
 * @example
 * const gw = createGateway({ listen: '127.0.0.1:8080', routes: spec.routes });
 * await gw.listen();
 * gw.setPools('hello', [{ release: 'rel-1', weight: 100, endpoints: [{ id: 'ins-1', address: '127.0.0.1:9001' }] }]);
 */
export function createGateway(config: GatewayConfig): Gateway {
  if (config.engine === 'haproxy') return new HaproxyGateway(config, { ...DEFAULT_LIMITS, ...config.limits });
  return new BuiltinGateway(config);
}

/**
 * The built-in engine alone, with its in-flight read (what the in-cluster gateway pod reports on
 * `/_cairn/status`); `config.engine` is not looked at.
 */
export function createBuiltinGateway(config: GatewayConfig): InflightGateway {
  return new BuiltinGateway(config);
}
