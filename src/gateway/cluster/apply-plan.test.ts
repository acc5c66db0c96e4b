import { describe, expect, it } from 'vitest';
import type { Pool } from '../types.js';
import { appliedDocument, planApply } from './apply-plan.js';
import type { GatewayDocument } from './gateway-document.js';

const pool = (release: string, weight: number): Pool => ({
  release,
  weight,
  endpoints: [{ id: `pod-${release}`, address: '10.0.0.5:8080' }],
});
const route = (service: string) => ({ host: '*', path: `/${service}`, service });
const doc = (
  version: number,
  services: string[],
  pools: Record<string, Pool[]>,
  extra = {},
): GatewayDocument => ({
  version,
  config: { engine: 'builtin', listen: '127.0.0.1:8443', routes: services.map(route), ...extra },
  pools,
});

describe('planning a new version of the gateway document', () => {
  const v1 = doc(1, ['a', 'b'], { a: [pool('a1', 100)], b: [pool('b1', 100)] });

  it('applies everything on the first version', () => {
    const plan = planApply(undefined, v1);
    expect(plan.routes).toHaveLength(2);
    expect(plan.pools.map((p) => p.service)).toEqual(['a', 'b']);
    expect(plan.unchanged).toBe(false);
  });

  it('touches only the service whose weights moved', () => {
    const v2 = doc(2, ['a', 'b'], { a: [pool('a1', 90), pool('a2', 10)], b: [pool('b1', 100)] });
    const plan = planApply(v1, v2);
    expect(plan.routes).toBeUndefined();
    expect(plan.pools).toEqual([{ service: 'a', pools: v2.pools.a }]);
    expect(plan.removed).toEqual([]);
  });

  it('a new version with the same content is unchanged', () => {
    expect(planApply(v1, { ...v1, version: 7 }).unchanged).toBe(true);
  });

  it('a service that left the routes is removed, and a routed service that lost its pools gets none', () => {
    const v2 = doc(2, ['a'], { b: [pool('b1', 100)] });
    const plan = planApply(v1, v2);
    expect(plan.routes).toEqual([route('a')]);
    expect(plan.pools).toEqual([{ service: 'a', pools: [] }]);
    expect(plan.removed).toEqual(['b']);
  });

  it('a changed listener setting is kept until the pod restarts, and said so', () => {
    const v2 = doc(2, ['a', 'b'], v1.pools, { pinHeader: false });
    const plan = planApply(v1, v2);
    expect(plan.restartNeeded).toEqual(['pinHeader']);
    expect(appliedDocument(v1, v2).config.pinHeader).toBeUndefined();
    expect(appliedDocument(v1, v2).version).toBe(2);
  });

  it('the applied document keeps only pools of routed services', () => {
    const v2 = doc(2, ['a'], { a: [pool('a1', 100)], ghost: [pool('g1', 100)] });
    expect(Object.keys(appliedDocument(v1, v2).pools)).toEqual(['a']);
  });
});
