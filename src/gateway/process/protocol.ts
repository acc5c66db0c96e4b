/**
 * The gateway process's control protocol (version 2): newline-delimited JSON over a unix socket.
 * A request is `{v, id, op, …}`, its answer `{v, id, ok: true, result}` or `{v, id, ok: false,
 * error}`. Also here: the gateway config as it crosses the process boundary (no functions, the
 * HS256 secrets as base64) and the file the gateway keeps its last applied state in.
 */
import { canonicalJson, sha256Hex } from '../../lib/index.js';
import type { GatewayIdentity } from '../backend-tls.js';
import type { GatewayConfig, GatewayEngine, GatewayLimits, GatewayRoute, Pool } from '../types.js';
import type { RecorderExport } from '../window-metrics.js';

/**
 * Bumped on any change a gateway of the previous version could not understand; a control plane
 * replaces (never adopts) a gateway of another version. 2: `setIdentity` and `Pool.tls`.
 */
export const PROTOCOL_VERSION = 2;
/** A longer line ends the connection (a metrics export of 10 minutes of slots is far below). */
export const MAX_LINE_BYTES = 32 * 1024 * 1024;

/** The static part of a gateway's config, as JSON. */
export interface WireConfig {
  engine: GatewayEngine;
  listen: string;
  routes: WireRoute[];
  pinHeader?: boolean;
  stickyHeader?: string;
  trustForwarded?: boolean;
  limits?: Partial<GatewayLimits>;
  /** Private folder of the haproxy engine. */
  stateDir?: string;
  /** Where the gateway appends its JSON access log; none when omitted. */
  accessLogFile?: string;
}

export type WireRoute = Omit<GatewayRoute, 'auth'> & {
  auth?: Omit<NonNullable<GatewayRoute['auth']>, 'secret'> & { secretBase64?: string };
};

/** What the gateway keeps on disk (0600): its config and the last pools of every service. */
export interface GatewayStateFile {
  protocol: number;
  /** The workspace root and environment the gateway belongs to (checked on adoption). */
  root: string;
  env: string;
  config: WireConfig;
  pools: Record<string, Pool[]>;
}

/** What `hello` answers: enough for a control plane to tell whether the gateway is its own. */
export interface Hello {
  protocol: number;
  pid: number;
  root: string;
  env: string;
  engine: GatewayEngine;
  address: string;
  configHash: string;
}

/** The operations of the protocol, with their arguments and results. */
export interface Operations {
  hello: { args: Record<string, never>; result: Hello };
  setPools: { args: { service: string; pools: Pool[] }; result: Record<string, never> };
  /** New routes (and their edge policies) on the same listener; the answer carries the new config hash. */
  setRoutes: { args: { routes: WireConfig['routes'] }; result: { configHash: string } };
  /** The gateway's client SVID for pools with `tls`; kept in memory only, never in the state file. */
  setIdentity: { args: GatewayIdentity; result: Record<string, never> };
  drain: { args: { endpointId: string; timeoutMs?: number }; result: Record<string, never> };
  metrics: { args: { sinceSecond: number }; result: RecorderExport };
  stop: { args: { graceMs: number }; result: Record<string, never> };
}
export type Operation = keyof Operations;

export interface RequestMessage {
  v: number;
  id: number;
  op: Operation;
  args: unknown;
}

export type ResponseMessage =
  | { v: number; id: number; ok: true; result: unknown }
  | { v: number; id: number; ok: false; error: { code: string; message: string; hint?: string } };

/** The JSON form of a gateway config (the access log becomes a file, the secrets base64). */
export function toWire(
  config: Omit<GatewayConfig, 'accessLog' | 'now'>,
  accessLogFile: string | undefined,
): WireConfig {
  const routes = config.routes.map((route): WireRoute => {
    if (!route.auth) return route as WireRoute;
    const { secret, ...auth } = route.auth;
    return {
      ...route,
      auth: { ...auth, ...(secret && { secretBase64: Buffer.from(secret).toString('base64') }) },
    };
  });
  return {
    engine: config.engine ?? 'builtin',
    listen: config.listen,
    routes,
    ...(config.pinHeader !== undefined && { pinHeader: config.pinHeader }),
    ...(config.stickyHeader !== undefined && { stickyHeader: config.stickyHeader }),
    ...(config.trustForwarded !== undefined && { trustForwarded: config.trustForwarded }),
    ...(config.limits && { limits: config.limits }),
    ...(config.stateDir && { stateDir: config.stateDir }),
    ...(accessLogFile && { accessLogFile }),
  };
}

/** The gateway config a `WireConfig` stands for (without its access log). */
export function fromWire(wire: WireConfig): GatewayConfig {
  const routes = wire.routes.map((route): GatewayRoute => {
    if (!route.auth) return route as GatewayRoute;
    const { secretBase64, ...auth } = route.auth;
    return {
      ...route,
      auth: { ...auth, ...(secretBase64 && { secret: new Uint8Array(Buffer.from(secretBase64, 'base64')) }) },
    };
  });
  const { accessLogFile: _, ...rest } = wire;
  return { ...rest, routes };
}

/** Equal configs have equal hashes: a control plane adopts a gateway only when they match. */
export function configHash(wire: WireConfig): string {
  return sha256Hex(canonicalJson(wire));
}
