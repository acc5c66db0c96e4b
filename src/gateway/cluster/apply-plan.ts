/**
 * What applying a new version of the gateway document to the running gateway takes: the new route
 * table when it changed, the services whose pools changed, the services that left. Pure: the pod
 * applies the plan between two requests, so a request sees either version, never a mix.
 */
import { canonicalJson } from '../../lib/index.js';
import type { WireConfig, WireRoute } from '../process/protocol.js';
import type { Pool } from '../types.js';
import type { GatewayDocument } from './gateway-document.js';

/** Settings fixed when the listener starts; a change to one takes effect at the pod's next start. */
export const LISTENER_SETTINGS = ['engine', 'pinHeader', 'stickyHeader', 'trustForwarded', 'limits'] as const;

export interface ApplyPlan {
  /** The new route table, when it differs from the running one. */
  routes?: WireRoute[];
  /** Services (routed by the new table) whose pools differ, with their new pools ([] when none are listed). */
  pools: Array<{ service: string; pools: Pool[] }>;
  /** Services that had pools and are no longer routed: the new route table drops them. */
  removed: string[];
  /** Listener settings that changed and are kept as they are until the pod restarts. */
  restartNeeded: string[];
  /** Nothing to do besides recording the new version. */
  unchanged: boolean;
}

const same = (a: unknown, b: unknown): boolean => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** Services the route table sends requests to. */
export function routedServices(config: WireConfig): Set<string> {
  return new Set(config.routes.map((r) => r.service));
}

/** The plan that turns the running document into `next`; `running` undefined is the first version. */
export function planApply(running: GatewayDocument | undefined, next: GatewayDocument): ApplyPlan {
  const routesChanged = !running || !same(running.config.routes, next.config.routes);
  const routed = routedServices(next.config);
  const pools: ApplyPlan['pools'] = [];
  for (const service of [...routed].sort()) {
    const wanted = next.pools[service] ?? [];
    const had = running?.pools[service];
    if (had === undefined ? wanted.length > 0 || !running : !same(had, wanted))
      pools.push({ service, pools: wanted });
  }
  const removed = running
    ? Object.keys(running.pools)
        .filter((s) => !routed.has(s))
        .sort()
    : [];
  const restartNeeded = running
    ? LISTENER_SETTINGS.filter((k) => !same(running.config[k], next.config[k]))
    : [];
  return {
    ...(routesChanged && { routes: next.config.routes }),
    pools,
    removed,
    restartNeeded,
    unchanged: !routesChanged && pools.length === 0 && removed.length === 0,
  };
}

/**
 * The document as the gateway now runs it: the new routes and pools (only routed services), with
 * the listener settings it started with.
 */
export function appliedDocument(
  running: GatewayDocument | undefined,
  next: GatewayDocument,
): GatewayDocument {
  const routed = routedServices(next.config);
  const pools = Object.fromEntries(Object.entries(next.pools).filter(([s]) => routed.has(s)));
  if (!running) return { ...next, pools };
  const config = { ...next.config };
  for (const k of LISTENER_SETTINGS) {
    if (running.config[k] === undefined) delete config[k];
    else (config as Record<string, unknown>)[k] = running.config[k];
  }
  return { version: next.version, config, pools };
}
