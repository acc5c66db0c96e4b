import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fallbackPools,
  planSplit,
  poolForPin,
  poolForPoint,
  SPLIT_POINTS,
  stickyPoint,
  xxh32,
} from './release-split.js';
import type { Pool } from './types.js';

const pool = (release: string, weight: number, role?: 'stable' | 'canary'): Pool => ({
  release,
  weight,
  endpoints: [],
  ...(role && { role }),
});
const releaseAt = (pools: Pool[], point: number) => poolForPoint(planSplit(pools), point)?.pool.release;

describe('release split', () => {
  it('gives the canary the bottom of the range and stable the rest', () => {
    const plan = planSplit([pool('a', 80), pool('b', 20)]);
    expect(plan.placed.map((p) => [p.pool.release, p.role, p.from, p.to])).toEqual([
      ['b', 'canary', 0, 2000],
      ['a', 'stable', 2000, SPLIT_POINTS],
    ]);
    expect(plan.active).toBe(2);
  });

  it('moves only stable clients to the canary when its weight rises', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.string(),
        (w1, w2, key) => {
          const [lo, hi] = w1 <= w2 ? [w1, w2] : [w2, w1];
          const point = stickyPoint(key);
          const before = releaseAt([pool('stable', 100 - lo), pool('canary', lo)], point);
          const after = releaseAt([pool('stable', 100 - hi), pool('canary', hi)], point);
          if (before === 'canary') expect(after).toBe('canary');
        },
      ),
    );
  });

  it('spreads keys evenly so a 20% canary gets about 20% of clients', () => {
    const plan = planSplit([pool('stable', 80), pool('canary', 20)]);
    let canary = 0;
    for (let i = 0; i < 20_000; i++)
      if (poolForPoint(plan, stickyPoint(`client-${i}`))?.role === 'canary') canary++;
    expect(canary / 20_000).toBeGreaterThan(0.18);
    expect(canary / 20_000).toBeLessThan(0.22);
  });

  it('normalises weights that do not sum to 100 and owns the whole range', () => {
    const plan = planSplit([pool('a', 1), pool('b', 2)]);
    expect(plan.placed.at(-1)!.to).toBe(SPLIT_POINTS);
    expect(poolForPoint(plan, SPLIT_POINTS - 1)?.pool.release).toBe('a');
  });

  it('has no pool for any point when every weight is 0', () => {
    const plan = planSplit([pool('a', 0), pool('b', 0)]);
    expect(poolForPoint(plan, 0)).toBeUndefined();
    expect(plan.active).toBe(0);
  });

  it('pins by release id, by role, and reaches a pool at weight 0', () => {
    const plan = planSplit([pool('a', 100), pool('b', 0)]);
    expect(poolForPin(plan, 'b')?.pool.release).toBe('b');
    expect(poolForPin(plan, 'canary')?.pool.release).toBe('b');
    expect(poolForPin(plan, 'stable')?.pool.release).toBe('a');
    expect(poolForPin(plan, 'nope')).toBeUndefined();
  });

  it('never falls back to a pool at weight 0', () => {
    const plan = planSplit([pool('a', 50), pool('b', 50), pool('c', 0, 'canary')]);
    const a = plan.placed.find((p) => p.pool.release === 'a')!;
    expect(fallbackPools(plan, a).map((p) => p.pool.release)).toEqual(['b']);
  });
});

describe('stickyPoint', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);

  it('is xxHash32 with seed 0, as HAProxy computes it', () => {
    // Reference values of xxHash32 (seed 0); the long input covers the 16-byte stripes.
    expect(xxh32(bytes(''))).toBe(0x02cc5d05);
    expect(xxh32(bytes('a'))).toBe(0x550d7456);
    expect(xxh32(bytes('abc'))).toBe(0x32d153ff);
    // Printed by haproxy 2.6 for `req.hdr(x-k),xxh32` on the same inputs.
    expect(xxh32(bytes('6cd979f2-8cb4-4a23-8084-5f02e7ea5780'))).toBe(2852638758);
    expect(xxh32(bytes('Nobody inspects the spammish repetition'))).toBe(3794352943);
  });

  it("places a key where HAProxy's xxh32,mod(10000) does", () => {
    expect(stickyPoint('user-1')).toBe(8957);
    expect(stickyPoint('6cd979f2-8cb4-4a23-8084-5f02e7ea5780')).toBe(8758);
  });
});
