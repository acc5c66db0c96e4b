import { describe, expect, it } from 'vitest';
import { EndpointRegistry } from './endpoint-registry.js';

const setup = () => {
  const registry = new EndpointRegistry();
  const [a, b, c] = ['a', 'b', 'c'].map((id, i) => registry.track({ id, address: `127.0.0.1:${9000 + i}` }));
  return { registry, a: a!, b: b!, c: c! };
};

describe('EndpointRegistry', () => {
  it('picks the endpoint with the fewest requests in flight', () => {
    const { registry, a, b, c } = setup();
    registry.acquire(a);
    registry.acquire(a);
    registry.acquire(b);
    expect(registry.pick([a, b, c], 0)).toBe(c);
  });

  it('shares load between idle endpoints', () => {
    const { registry, a, b } = setup();
    const picks = new Set(Array.from({ length: 4 }, () => registry.pick([a, b], 0)!.id));
    expect(picks).toEqual(new Set(['a', 'b']));
  });

  it('skips a cooling-down endpoint unless nothing else is left', () => {
    const { registry, a, b } = setup();
    registry.markDown(a, 1000, 500);
    for (let i = 0; i < 4; i++) expect(registry.pick([a, b], 1200)).toBe(b);
    expect(registry.pick([a], 1200)).toBe(a);
    expect(registry.pick([a, b], 1600, b)).toBe(a);
  });

  it('never picks a draining endpoint, even as the last one', async () => {
    const { registry, a } = setup();
    await registry.drain('a');
    expect(registry.pick([a], 0)).toBeUndefined();
    registry.undrain(a);
    expect(registry.pick([a], 0)).toBe(a);
  });

  it('resolves drain only when the last in-flight request is released', async () => {
    const { registry, a } = setup();
    registry.acquire(a);
    registry.acquire(a);
    let drained = false;
    const done = registry.drain('a', 10_000).then(() => {
      drained = true;
    });
    registry.release(a);
    await Promise.resolve();
    expect(drained).toBe(false);
    registry.release(a);
    await done;
    expect(drained).toBe(true);
  });

  it('gives up waiting after the drain timeout', async () => {
    const { registry, a } = setup();
    registry.acquire(a);
    const started = Date.now();
    await registry.drain('a', 50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(a.inflight).toBe(1);
  });

  it('forgets idle endpoints no pool names, but keeps busy ones', () => {
    const { registry, a, b } = setup();
    registry.acquire(b);
    expect(registry.prune(new Set(['c'])).sort()).toEqual([a.address]);
    expect(registry.get('b')).toBe(b);
    expect(registry.get('a')).toBeUndefined();
  });

  it('reports the requests in flight per endpoint, back to 0 when they end', () => {
    const { registry, a, b } = setup();
    registry.acquire(a);
    registry.acquire(a);
    registry.acquire(b);
    registry.release(b);
    expect(registry.inflight()).toEqual({ a: 2, b: 0, c: 0 });
  });
});
