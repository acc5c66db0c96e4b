/**
 * The document the control plane writes for its in-cluster gateways: the `gateway.json` key of
 * the ConfigMap `cairn-gateway`, `{version, config, pools}`. Parsed and checked here, without
 * I/O, so a bad version is refused whole before anything of it reaches the running gateway.
 */
import { ValidationError } from '../../lib/index.js';
import type { WireConfig, WireRoute } from '../process/protocol.js';
import { validatePools } from '../service-pools.js';
import type { Pool } from '../types.js';

/**
 * The name of everything of cairn's in-cluster gateway: its ConfigMap, ServiceAccount, Role,
 * RoleBinding, DaemonSet, image repository and allow-list entry.
 */
export const GATEWAY_NAME = 'cairn-gateway';
/** The ConfigMap data key that holds the document. */
export const DOCUMENT_KEY = 'gateway.json';

/** One version of what the gateway pods serve. */
export interface GatewayDocument {
  /** +1 at every write by the control plane; reported back on `/_cairn/status`. */
  version: number;
  /** The routes and listener settings; `listen`, `accessLogFile` and `stateDir` are not used by the pod. */
  config: WireConfig;
  /** Pools by service. */
  pools: Record<string, Pool[]>;
}

/** A ConfigMap as far as the gateway reads it. */
export interface ConfigMapLike {
  metadata?: { name?: string; resourceVersion?: string };
  data?: Record<string, string>;
}

function refuse(what: string): never {
  throw new ValidationError(`reading ${DOCUMENT_KEY}: ${what}`, [], {
    hint: 'the control plane writes this document (cairn up / cairn deploy); the last good version keeps serving',
  });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The document a ConfigMap holds; throws ValidationError when the key is missing or the document is bad. */
export function documentOf(configMap: ConfigMapLike): GatewayDocument {
  const text = configMap.data?.[DOCUMENT_KEY];
  if (typeof text !== 'string')
    refuse(`the ConfigMap ${configMap.metadata?.name ?? ''} has no key ${DOCUMENT_KEY}`);
  return parseDocument(text);
}

/** Parses and checks one `gateway.json` text. */
export function parseDocument(text: string): GatewayDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    refuse(`not JSON (${(error as Error).message})`);
  }
  if (!isObject(raw)) refuse('not a JSON object');
  const version = raw.version;
  if (!Number.isSafeInteger(version) || (version as number) < 0)
    refuse(`version ${JSON.stringify(version)} is not a whole number >= 0`);
  const config = checkConfig(raw.config);
  const pools = checkPools(raw.pools);
  return { version: version as number, config, pools };
}

function checkConfig(config: unknown): WireConfig {
  if (!isObject(config)) refuse('config is not an object');
  if (config.engine !== undefined && config.engine !== 'builtin' && config.engine !== 'haproxy')
    refuse(`config.engine ${JSON.stringify(config.engine)} is not builtin or haproxy`);
  if (!Array.isArray(config.routes)) refuse('config.routes is not a list');
  config.routes.forEach(checkRoute);
  for (const flag of ['pinHeader', 'trustForwarded'] as const)
    if (config[flag] !== undefined && typeof config[flag] !== 'boolean')
      refuse(`config.${flag} is not true or false`);
  if (config.stickyHeader !== undefined && typeof config.stickyHeader !== 'string')
    refuse('config.stickyHeader is not a string');
  if (config.limits !== undefined) checkLimits(config.limits);
  return config as unknown as WireConfig;
}

function checkRoute(route: unknown, i: number): asserts route is WireRoute {
  if (!isObject(route)) refuse(`config.routes[${i}] is not an object`);
  for (const field of ['host', 'path', 'service'] as const)
    if (typeof route[field] !== 'string' || route[field] === '')
      refuse(`config.routes[${i}].${field} is not a non-empty string`);
}

function checkLimits(limits: unknown): void {
  if (!isObject(limits)) refuse('config.limits is not an object');
  for (const [name, value] of Object.entries(limits))
    if (typeof value !== 'number' || !(value > 0)) refuse(`config.limits.${name} is not a positive number`);
}

function checkPools(pools: unknown): Record<string, Pool[]> {
  if (pools === undefined) return {};
  if (!isObject(pools)) refuse('pools is not an object of service → pools');
  for (const [service, list] of Object.entries(pools)) {
    if (!Array.isArray(list)) refuse(`pools.${service} is not a list`);
    for (const [i, pool] of list.entries()) checkPoolShape(service, pool, i);
    try {
      validatePools(service, list as Pool[]);
    } catch (error) {
      refuse((error as Error).message);
    }
  }
  return pools as Record<string, Pool[]>;
}

function checkPoolShape(service: string, pool: unknown, i: number): void {
  const where = `pools.${service}[${i}]`;
  if (!isObject(pool)) refuse(`${where} is not an object`);
  if (typeof pool.release !== 'string' || pool.release === '') refuse(`${where}.release is not a string`);
  if (typeof pool.weight !== 'number') refuse(`${where}.weight is not a number`);
  if (pool.role !== undefined && pool.role !== 'stable' && pool.role !== 'canary')
    refuse(`${where}.role is not stable or canary`);
  // The pod has no SVID to present: a pool that needs one cannot be served by it.
  if (pool.tls !== undefined) refuse(`${where} has tls, which the in-cluster gateway does not serve yet`);
  if (!Array.isArray(pool.endpoints)) refuse(`${where}.endpoints is not a list`);
  pool.endpoints.forEach((e: unknown, k: number) => {
    if (!isObject(e) || typeof e.id !== 'string' || e.id === '' || typeof e.address !== 'string')
      refuse(`${where}.endpoints[${k}] is not {id, address}`);
  });
}
