import { describe, expect, it } from 'vitest';
import { planSplit, poolForPin } from '../gateway/release-split.js';
import type { InstanceRecord, ServingRecord } from '../state/index.js';
import { poolsOf } from './reconciler.js';

const instance = (id: string, releaseId: string, port: number): InstanceRecord => ({
  id,
  releaseId,
  service: 'hello',
  env: 'dev',
  driver: 'process',
  state: 'healthy',
  endpoint: `127.0.0.1:${port}`,
  handle: {},
  identity: {},
  createdAt: '',
  updatedAt: '',
});

describe('poolsOf: the gateway pools of a service', () => {
  const healthy = [instance('ins-new', 'rel-new', 9001), instance('ins-old', 'rel-old', 9002)];

  it('keeps a warm release (instances kept, no weight) at weight 0, so a pin reaches it and no new client does', () => {
    const serving: ServingRecord = {
      env: 'dev',
      service: 'hello',
      replicas: { 'rel-new': 1, 'rel-old': 1 },
      weights: [{ release: 'rel-new', weight: 100 }],
      updatedAt: '',
    };
    const pools = poolsOf(serving, healthy);
    expect(pools).toEqual([
      { release: 'rel-new', weight: 100, endpoints: [{ id: 'ins-new', address: '127.0.0.1:9001' }] },
      {
        release: 'rel-old',
        weight: 0,
        role: 'stable',
        endpoints: [{ id: 'ins-old', address: '127.0.0.1:9002' }],
      },
    ]);
    const plan = planSplit(pools);
    expect(poolForPin(plan, 'rel-old')?.pool.release).toBe('rel-old');
    expect(poolForPin(plan, 'stable')?.pool.release).toBe('rel-new');
    expect(plan.active).toBe(1);
  });

  it('leaves out a release scaled to 0 (its warm period is over)', () => {
    const serving: ServingRecord = {
      env: 'dev',
      service: 'hello',
      replicas: { 'rel-new': 1, 'rel-old': 0 },
      weights: [{ release: 'rel-new', weight: 100 }],
      updatedAt: '',
    };
    expect(poolsOf(serving, healthy).map((p) => p.release)).toEqual(['rel-new']);
  });
});
