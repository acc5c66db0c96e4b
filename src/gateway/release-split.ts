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

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;
const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
const lane = (acc: number, word: number) => Math.imul(rotl((acc + Math.imul(word, P2)) | 0, 13), P1);
const word32 = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);

/** xxHash32 (seed 0) of bytes: the hash HAProxy's `xxh32` converter computes. */
export function xxh32(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  let h: number;
  if (n >= 16) {
    let v1 = (P1 + P2) | 0;
    let v2 = P2;
    let v3 = 0;
    let v4 = -P1 | 0;
    for (; i + 16 <= n; i += 16) {
      v1 = lane(v1, word32(bytes, i));
      v2 = lane(v2, word32(bytes, i + 4));
      v3 = lane(v3, word32(bytes, i + 8));
      v4 = lane(v4, word32(bytes, i + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else h = P5;
  h = (h + n) | 0;
  for (; i + 4 <= n; i += 4) h = Math.imul(rotl((h + Math.imul(word32(bytes, i), P3)) | 0, 17), P4);
  for (; i < n; i++) h = Math.imul(rotl((h + Math.imul(bytes[i]!, P5)) | 0, 11), P1);
  h = Math.imul(h ^ (h >>> 15), P2);
  h = Math.imul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A sticky key's split point: xxHash32 of its UTF-8 bytes, modulo `SPLIT_POINTS`. Both gateway
 * engines compute the same point (HAProxy: `xxh32,mod(10000)`), so a client keeps its release
 * when an environment changes engine. Stable across processes and versions.
 */
export function stickyPoint(key: string): number {
  return xxh32(new TextEncoder().encode(key)) % SPLIT_POINTS;
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
