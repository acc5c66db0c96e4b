/**
 * The pools of every service and the choice of an endpoint for one request: pin header, else the
 * sticky split, then least-outstanding within the pool, falling back to another weighted pool
 * only when the chosen one has no endpoint left. Pure: no sockets, the clock is passed in.
 */
import { ValidationError } from '../lib/index.js';
import type { EndpointRegistry, EndpointState } from './endpoint-registry.js';
import {
  fallbackPools,
  type PlacedPool,
  planSplit,
  poolForPin,
  poolForPoint,
  type SplitPlan,
  stickyPoint,
} from './release-split.js';
import type { Pool } from './types.js';

const SPIFFE_ID = /^spiffe:\/\/[a-z0-9._-]+\/[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/;
const ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|localhost):\d{1,5}$/;

/** A service's routing as of one `setPools` call; replaced whole, never edited. */
export interface ServiceRouting {
  plan: SplitPlan;
  /** Endpoint states per release, in pool order. */
  endpoints: Map<string, EndpointState[]>;
}

/** What a request asks for: a pinned release, or a sticky key (absent means "any"). */
export interface Selector {
  pin?: string;
  stickyKey?: string;
  /** Makes a sticky key for a client without one, while a split is active. */
  newKey: () => string;
}

export type Selection =
  | { ok: true; release: string; endpoint: EndpointState; newStickyKey?: string }
  | { ok: false; reason: string };

/** Rejects pools a caller got wrong: bad weights, duplicate releases, malformed addresses. */
export function validatePools(service: string, pools: Pool[]): void {
  const seen = new Set<string>();
  for (const p of pools) {
    const where = `set pools of service ${service}: release ${p.release}`;
    if (!(p.weight >= 0 && p.weight <= 100))
      throw new ValidationError(`${where} has weight ${p.weight}`, [], {
        hint: 'use a weight from 0 to 100',
      });
    if (seen.has(p.release))
      throw new ValidationError(`${where} appears twice`, [], { hint: 'give each release one pool' });
    seen.add(p.release);
    if (p.tls !== undefined && !SPIFFE_ID.test(String(p.tls?.spiffeId)))
      throw new ValidationError(`${where} has tls without a SPIFFE ID`, [], {
        hint: 'set tls.spiffeId to spiffe://<trust-domain>/<env>/<service>',
      });
    for (const e of p.endpoints)
      if (!ADDRESS.test(e.address))
        throw new ValidationError(
          `${where}: endpoint ${e.id} has address ${JSON.stringify(e.address)}, not host:port`,
          [],
          {
            hint: 'use host:port, e.g. 127.0.0.1:8080',
          },
        );
  }
}

/** Builds the routing of a service, tracking (and un-draining) every endpoint it names. */
export function buildRouting(pools: Pool[], registry: EndpointRegistry): ServiceRouting {
  const endpoints = new Map<string, EndpointState[]>();
  for (const p of pools)
    endpoints.set(
      p.release,
      p.endpoints.map((e) => {
        const s = registry.track(e, p.tls?.spiffeId);
        registry.undrain(s);
        return s;
      }),
    );
  return { plan: planSplit(pools), endpoints };
}

function endpointIn(
  routing: ServiceRouting,
  placed: PlacedPool,
  registry: EndpointRegistry,
  now: number,
  exclude?: EndpointState,
): EndpointState | undefined {
  return registry.pick(routing.endpoints.get(placed.pool.release) ?? [], now, exclude);
}

/** Chooses the release and endpoint for a request. `exclude` skips an endpoint (retries). */
export function selectEndpoint(
  routing: ServiceRouting,
  selector: Selector,
  registry: EndpointRegistry,
  now: number,
  exclude?: EndpointState,
): Selection {
  const { plan } = routing;
  if (selector.pin !== undefined) {
    const pinned = poolForPin(plan, selector.pin);
    if (!pinned) return { ok: false, reason: `release ${selector.pin} is not serving this service` };
    const endpoint = endpointIn(routing, pinned, registry, now, exclude);
    if (!endpoint) return { ok: false, reason: `release ${pinned.pool.release} has no endpoint available` };
    return { ok: true, release: pinned.pool.release, endpoint };
  }
  // Without a split any point lands in the one weighted pool, so no key (and no cookie) is needed.
  const newStickyKey = selector.stickyKey === undefined && plan.active > 1 ? selector.newKey() : undefined;
  const key = selector.stickyKey ?? newStickyKey;
  const point = key === undefined ? 0 : stickyPoint(key);
  const chosen = poolForPoint(plan, point);
  if (!chosen) return { ok: false, reason: 'no release of this service has traffic weight' };
  for (const placed of [chosen, ...fallbackPools(plan, chosen)]) {
    const endpoint = endpointIn(routing, placed, registry, now, exclude);
    if (endpoint) return { ok: true, release: placed.pool.release, endpoint, newStickyKey };
  }
  return { ok: false, reason: 'no endpoint of this service is available' };
}
