/** The shapes the gateway shares with the control plane and the rollout controller. */
import type { RouteSpec } from '../spec/types.js';

/** One running instance that can take requests. */
export interface Endpoint {
  /** Instance id (`ins-…`); the key for draining and in-flight accounting. */
  id: string;
  /** `127.0.0.1:port`. */
  address: string;
}

/** What `x-cairn-release: stable|canary` pins to; canary pools own the bottom of the split range. */
export type PoolRole = 'stable' | 'canary';

/** The endpoints of one release and the share of new clients it receives. */
export interface Pool {
  release: string;
  /** Percent of new requests, 0..100; pools of a service should sum to 100 (otherwise normalised). */
  weight: number;
  endpoints: Endpoint[];
  /** Defaults to `stable` for the first pool and `canary` for the others. */
  role?: PoolRole;
  /**
   * The release serves TLS with its SVID (`run.tls`): the gateway connects with its own SVID and
   * accepts only a backend certificate whose URI SAN is `spiffeId`. Absent: plain HTTP.
   */
  tls?: { spiffeId: string };
}

/** What the rollout analysis reads for one service and release over a time window. */
export interface WindowMetrics {
  windowMs: number;
  requests: number;
  /** Responses with status >= 500, including the gateway's own 502/504. */
  errors: number;
  errorRate: number;
  /** Counts by status class: `1xx` … `5xx`. */
  statusClasses: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>;
  /** Latency percentiles in milliseconds (0 when there were no requests). */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

/** Moves traffic between releases; the built-in gateway is the first implementation. */
export interface TrafficRouter {
  readonly kind: string;
  /**
   * Replaces the pools of a service; atomic for new requests, in-flight requests finish where they
   * are. Throws `ValidationError` for bad pools. An engine that applies the change out of process
   * returns a promise that resolves once new requests see it.
   */
  setPools(service: string, pools: Pool[]): void | Promise<void>;
  /** Stops new requests to an endpoint and resolves once its in-flight requests are done (or on timeout). */
  drain(endpointId: string, timeoutMs?: number): Promise<void>;
  /** Request counts, errors and latency of one release of a service over the last `windowMs`. */
  metrics(service: string, release: string, windowMs: number): WindowMetrics;
}

/** JWT authentication of a route, with keys already loaded (see `loadRouteAuth`). */
export interface RouteAuth {
  /** Public keys for RS256/ES256 (a JWKS document). */
  jwks?: { keys: Record<string, unknown>[] };
  /** Shared secret for HS256. */
  secret?: Uint8Array;
  issuer?: string;
  audience?: string;
}

/** A route as the gateway runs it: the spec's route with its authentication keys loaded. */
export interface GatewayRoute extends Omit<RouteSpec, 'auth'> {
  auth?: RouteAuth;
}

/** Connection limits and timeouts that apply to the whole listener. */
export interface GatewayLimits {
  /** Largest request head (request line + headers); larger gets 431. */
  maxHeaderBytes: number;
  /** Time a client has to send the full request head; slower gets 408 (slowloris). */
  headersTimeoutMs: number;
  /** A client connection idle this long is closed. */
  idleTimeoutMs: number;
  /** Time to open a connection to a backend. */
  connectTimeoutMs: number;
  /** Default time to the first response byte when a route sets no `timeoutMs`; then 504. */
  firstByteTimeoutMs: number;
  /** A backend body that sends nothing for this long is aborted. */
  bodyIdleTimeoutMs: number;
  /**
   * Open connections one client address may hold; more are answered 429 and closed at once, so one
   * client cannot take all of the gateway's file descriptors.
   */
  maxConnectionsPerClient: number;
}

/** One JSON access-log line. */
export interface AccessLogEntry {
  time: string;
  method: string;
  host: string;
  path: string;
  status: number;
  durationMs: number;
  client: string;
  service?: string;
  release?: string;
  endpoint?: string;
  bytesOut?: number;
}

/** The data plane: cairn's own HTTP/1.1 engine in Node.js, or HAProxy run and steered by cairn. */
export type GatewayEngine = 'builtin' | 'haproxy';

/** How to build a gateway; `gatewayConfigFor` derives one from cairn.yaml. */
export interface GatewayConfig {
  /** Default `builtin` (`environments.<env>.gateway.engine`). */
  engine?: GatewayEngine;
  /** Private folder of the haproxy engine (config, maps, admin socket); a temporary one when omitted. */
  stateDir?: string;
  /** `host:port` to listen on (`environments.<env>.gateway.listen`); port 0 picks a free port. */
  listen: string;
  routes: GatewayRoute[];
  /** Honour `x-cairn-release` (`environments.<env>.gateway.pinHeader`); default true. */
  pinHeader?: boolean;
  /** A request header whose value is the sticky key when present (e.g. a user id); the cookie otherwise. */
  stickyHeader?: string;
  /** Trust and append to incoming `X-Forwarded-*` (only behind another proxy); default false: replace them. */
  trustForwarded?: boolean;
  limits?: Partial<GatewayLimits>;
  /** Receives one JSON line per request; omitted means no access log. */
  accessLog?: (line: string) => void;
  /** Milliseconds clock for metrics and rate limits; injectable for tests. */
  now?: () => number;
}

/** The built-in gateway: a `TrafficRouter` with a listener. */
export interface Gateway extends TrafficRouter {
  /** Starts listening; resolves with the bound address (`127.0.0.1:port`). */
  listen(): Promise<string>;
  /** Stops accepting, waits up to `graceMs` for in-flight requests, then closes everything. */
  close(graceMs?: number): Promise<void>;
  /**
   * Replaces the routes and their edge policies without closing the listener: new requests are
   * routed by the new table, in-flight ones finish where they are. Pools of services still routed
   * stay; a newly routed service has none until `setPools`.
   */
  setRoutes(routes: GatewayRoute[]): Promise<void>;
  /**
   * The gateway's client SVID and the trust bundle for pools with `tls` (renewed by the control
   * plane at half-life): new backend connections present it, open ones keep theirs.
   */
  setIdentity(identity: import('./backend-tls.js').GatewayIdentity): void | Promise<void>;
  /** Counters of every route and release, for `/metrics`. */
  snapshot(): import('./window-metrics.js').MetricsSnapshot;
  /** Metric slots of `sinceSecond` and later and all counters: what a copy in another process needs. */
  exportMetrics(sinceSecond: number): import('./window-metrics.js').RecorderExport;
}

/** A gateway that can say how many requests are in flight on each endpoint (the built-in engine). */
export interface InflightGateway extends Gateway {
  /** Requests in flight by endpoint id, for every endpoint the gateway still tracks (0 included). */
  inflight(): Record<string, number>;
}
