/**
 * The weighted, sticky choice of a release pool. A client's sticky key hashes to a point in
 * [0, 10000); canary pools own the bottom of the range and stable pools the rest, so raising a
 * canary from 10% to 20% moves only the clients between those two split points.
 */
import type { Pool, PoolRole } from './types.js';

/** Resolution of the split: basis points (1/100 of a percent). */
export const SPLIT_POINTS = 10_000;

/** A pool with its role settled and its slice of the split range. */
export interface PlacedPool {
  pool: Pool;
  role: PoolRole;
  /** The pool owns sticky points in [from, to). Empty when its weight is 0. */
  from: number;
  to: number;
}

/** A service's pools arranged for choosing; build once per `setPools`. */
export interface SplitPlan {
  placed: PlacedPool[];
  /** Number of pools with weight > 0; a sticky cookie is only worth setting when this is > 1. */
  active: number;
}

/** FNV-1a (32-bit) of a string, reduced to a split point. Stable across processes and versions. */
export function stickyPoint(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % SPLIT_POINTS;
}

/** Places pools on the split range: canaries first (in the given order), then stable pools. */
export function planSplit(pools: Pool[]): SplitPlan {
  const withRoles = pools.map((pool, i) => ({ pool, role: pool.role ?? (i === 0 ? 'stable' : 'canary') }));
  const ordered = [
    ...withRoles.filter((p) => p.role === 'canary'),
    ...withRoles.filter((p) => p.role === 'stable'),
  ];
  const total = ordered.reduce((sum, p) => sum + Math.max(0, p.pool.weight), 0);
  let from = 0;
  const placed: PlacedPool[] = ordered.map(({ pool, role }) => {
    const width = total === 0 ? 0 : Math.round((Math.max(0, pool.weight) / total) * SPLIT_POINTS);
    const slice = { pool, role: role as PoolRole, from, to: Math.min(SPLIT_POINTS, from + width) };
    from = slice.to;
    return slice;
  });
  // Rounding may leave the last basis points unowned; give them to the last pool with weight.
  const last = [...placed].reverse().find((p) => p.to > p.from);
  if (last) last.to = SPLIT_POINTS;
  return { placed, active: placed.filter((p) => p.to > p.from).length };
}

/** The pool owning a sticky point, or undefined when every weight is 0. */
export function poolForPoint(plan: SplitPlan, point: number): PlacedPool | undefined {
  for (const p of plan.placed) if (point >= p.from && point < p.to) return p;
  return undefined;
}

/**
 * The pool a pin header names: a release id, `stable` or `canary`. A pin reaches a pool even at
 * weight 0, which is how testers try a release before it takes traffic.
 */
export function poolForPin(plan: SplitPlan, pin: string): PlacedPool | undefined {
  if (pin === 'stable' || pin === 'canary') {
    const ofRole = plan.placed.filter((p) => p.role === pin);
    return ofRole.find((p) => p.to > p.from) ?? ofRole[0];
  }
  return plan.placed.find((p) => p.pool.release === pin);
}

/**
 * Other pools that have weight, in split order: where a request goes when its own pool has no
 * endpoint that can take it. Pools at weight 0 are never a fallback.
 */
export function fallbackPools(plan: SplitPlan, chosen: PlacedPool): PlacedPool[] {
  return plan.placed.filter((p) => p !== chosen && p.to > p.from);
}
