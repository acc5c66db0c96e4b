/** The gateway: a reverse proxy that routes by host and path and shifts traffic between release pools without losing a request. */
export {
  checkSpiffeId,
  type GatewayIdentity,
  loadBackendIdentity,
  spiffeClientOptions,
  tlsOptions,
} from './backend-tls.js';
export { createGateway, DEFAULT_LIMITS } from './builtin-gateway.js';
export { DEFAULT_DRAIN_TIMEOUT_MS } from './endpoint-registry.js';
export { PIN_HEADER } from './forward-headers.js';
export { gatewayConfigFor, loadGatewayRoutes, type SecretResolver } from './gateway-config.js';
export { parseListen } from './listen-address.js';
export { GATEWAY_MAIN } from './process/gateway-launch.js';
export { leftGateways, stopLeftGateways } from './process/left-gateways.js';
export {
  /** A gateway config from its JSON form. */
  fromWire,
  PROTOCOL_VERSION as GATEWAY_PROTOCOL_VERSION,
  /** The gateway config as JSON (what crosses a process or cluster boundary). */
  toWire,
  type WireConfig,
} from './process/protocol.js';
export { SupervisedGateway, type SupervisedGatewayOptions } from './process/supervised-gateway.js';
export { renderPrometheus } from './prometheus.js';
export { planSplit, SPLIT_POINTS, stickyPoint } from './release-split.js';
export { STICKY_COOKIE } from './sticky-cookie.js';
export type {
  AccessLogEntry,
  Endpoint,
  Gateway,
  GatewayConfig,
  GatewayEngine,
  GatewayLimits,
  GatewayRoute,
  Pool,
  PoolRole,
  RouteAuth,
  TrafficRouter,
  WindowMetrics,
} from './types.js';
export {
  LATENCY_BOUNDS_MS,
  /** Per-second request windows and totals; a copy follows another process's exports. */
  MetricsRecorder,
  type MetricsSnapshot,
  type RecorderExport,
  type SeriesTotals,
} from './window-metrics.js';
