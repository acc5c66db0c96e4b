import { describe, expect, it } from 'vitest';
import { EndpointRegistry } from './endpoint-registry.js';
import { buildRouting, type Selector, selectEndpoint, validatePools } from './service-pools.js';
import type { Pool } from './types.js';

const pools = (stableWeight: number): Pool[] => [
  { release: 'rel-a', weight: stableWeight, endpoints: [{ id: 'a1', address: '127.0.0.1:9001' }] },
  { release: 'rel-b', weight: 100 - stableWeight, endpoints: [{ id: 'b1', address: '127.0.0.1:9002' }] },
];
let n = 0;
const selector = (extra: Partial<Selector> = {}): Selector => ({ newKey: () => `k${n++}`, ...extra });

describe('selectEndpoint', () => {
  it('hands out a sticky key only while a split is active', () => {
    const registry = new EndpointRegistry();
    const split = selectEndpoint(buildRouting(pools(80), registry), selector(), registry, 0);
    expect(split.ok && split.newStickyKey).toMatch(/^k/);
    const whole = selectEndpoint(buildRouting(pools(100), registry), selector(), registry, 0);
    expect(whole).toMatchObject({ ok: true, release: 'rel-a', newStickyKey: undefined });
  });

  it('keeps a client with a key on its release', () => {
    const registry = new EndpointRegistry();
    const routing = buildRouting(pools(50), registry);
    const first = selectEndpoint(routing, selector({ stickyKey: 'client-7' }), registry, 0);
    for (let i = 0; i < 20; i++)
      expect(selectEndpoint(routing, selector({ stickyKey: 'client-7' }), registry, 0)).toMatchObject({
        release: first.ok ? first.release : '',
      });
  });

  it('honours a pin even to a release at weight 0, and refuses an unknown one', () => {
    const registry = new EndpointRegistry();
    const routing = buildRouting(pools(100), registry);
    expect(selectEndpoint(routing, selector({ pin: 'rel-b' }), registry, 0)).toMatchObject({
      release: 'rel-b',
    });
    expect(selectEndpoint(routing, selector({ pin: 'canary' }), registry, 0)).toMatchObject({
      release: 'rel-b',
    });
    expect(selectEndpoint(routing, selector({ pin: 'rel-x' }), registry, 0)).toMatchObject({ ok: false });
  });

  it('falls back to the other weighted release when the chosen one has no endpoint left', async () => {
    const registry = new EndpointRegistry();
    const routing = buildRouting(pools(50), registry);
    await registry.drain('a1');
    for (let i = 0; i < 10; i++)
      expect(selectEndpoint(routing, selector({ stickyKey: `c${i}` }), registry, 0)).toMatchObject({
        release: 'rel-b',
      });
  });

  it('does not fall back to a release at weight 0', async () => {
    const registry = new EndpointRegistry();
    const routing = buildRouting(pools(100), registry);
    await registry.drain('a1');
    expect(selectEndpoint(routing, selector(), registry, 0)).toMatchObject({ ok: false });
  });

  it('un-drains an endpoint that setPools names again', async () => {
    const registry = new EndpointRegistry();
    buildRouting(pools(100), registry);
    await registry.drain('a1');
    const routing = buildRouting(pools(100), registry);
    expect(selectEndpoint(routing, selector(), registry, 0)).toMatchObject({ ok: true, release: 'rel-a' });
  });
});

describe('validatePools', () => {
  it('rejects bad weights, duplicate releases and malformed addresses', () => {
    expect(() => validatePools('web', [{ release: 'r', weight: 101, endpoints: [] }])).toThrow(/weight 101/);
    const dup = { release: 'r', weight: 50, endpoints: [] };
    expect(() => validatePools('web', [dup, dup])).toThrow(/appears twice/);
    expect(() =>
      validatePools('web', [{ release: 'r', weight: 1, endpoints: [{ id: 'i', address: 'x' }] }]),
    ).toThrow(/host:port/);
    expect(() => validatePools('web', pools(30))).not.toThrow();
  });
});
