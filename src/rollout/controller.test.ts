import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStateStore, type DeploymentRecord, type SqliteStateStore } from '../state/index.js';
import { RolloutController } from './controller.js';
import { startRollout } from './machine.js';
import { SETTINGS } from './test-world.js';

const release = (id: string) => ({
  id,
  service: 'hello',
  imageDigest: `sha256:${id.slice(-1).repeat(64)}`,
  configDigest: `sha256:${'c'.repeat(64)}`,
  config: {},
  createdAt: '2026-11-26T00:00:00.000Z',
});

describe('RolloutController', () => {
  let store: SqliteStateStore;
  let now: number;
  let controller: RolloutController;
  const changed: string[] = [];

  beforeEach(() => {
    store = createSqliteStateStore({ path: ':memory:' });
    now = 1_000_000;
    controller = new RolloutController({
      store,
      audit: { record: () => undefined },
      now: () => now,
      observe: (_env, _service, releases) =>
        Object.fromEntries(releases.map((r) => [r, { live: 2, healthy: 2, failures: 0 }])),
      metrics: () => undefined,
      servingChanged: (env, service) => changed.push(`${env}/${service}`),
    });
    store.transaction((tx) => {
      for (const r of ['rel-a', 'rel-b']) tx.putRelease(release(r));
    });
  });
  afterEach(() => store.close());

  const deploy = (
    id: string,
    from: string,
    to: string,
    strategy: 'bluegreen' | 'rollback',
  ): DeploymentRecord => {
    const state = startRollout({ ...SETTINGS, strategy, scaleDownDelayMs: 60_000 }, from, to, now);
    const d: DeploymentRecord = {
      id,
      service: 'hello',
      env: 'dev',
      fromRelease: from,
      toRelease: to,
      strategy,
      phase: 'progressing',
      step: 0,
      state: state as unknown as Record<string, unknown>,
      createdAt: new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
    };
    store.transaction((tx) => tx.putDeployment(d));
    return controller.tick(d);
  };

  it('persists the switch and moves the target only when the rollout succeeds', () => {
    const d = deploy('dep-1', 'rel-a', 'rel-b', 'bluegreen');
    expect(d.phase).toBe('succeeded');
    expect(store.getTarget('dev', 'hello')).toMatchObject({ releaseId: 'rel-b', previousReleaseId: 'rel-a' });
    expect(store.getServing('dev', 'hello')!.weights).toEqual([{ release: 'rel-b', weight: 100 }]);
    expect(store.listEvents().map((e) => e.kind)).toContain('deploy.succeeded');
    expect(changed).toEqual(['dev/hello']);
  });

  it('after a rollback, the end of both warm periods leaves the serving release running', () => {
    deploy('dep-1', 'rel-a', 'rel-b', 'bluegreen');
    now += 1000;
    deploy('dep-2', 'rel-b', 'rel-a', 'rollback');
    expect(store.getServing('dev', 'hello')!.weights).toEqual([{ release: 'rel-a', weight: 100 }]);
    now += 120_000;
    controller.tickAll();
    const serving = store.getServing('dev', 'hello')!;
    expect(serving.weights).toEqual([{ release: 'rel-a', weight: 100 }]);
    expect(serving.replicas).toEqual({ 'rel-a': 2 });
    expect(controller.unfinished()).toEqual([]);
  });
});
