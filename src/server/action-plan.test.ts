import { describe, expect, it } from 'vitest';
import type { RolloutState } from '../rollout/index.js';
import { createSqliteStateStore } from '../state/index.js';
import { checkExpectation, currentExpectation, planAction } from './action-plan.js';

const NOW = '2026-12-07T00:00:00.000Z';

function world(withRollout: { phase: RolloutState['phase']; step: number } | undefined) {
  const store = createSqliteStateStore({ path: ':memory:' });
  for (const id of ['rel-a', 'rel-b', 'rel-c']) {
    store.putRelease({
      id,
      service: 'hello',
      imageDigest: `sha256:${id.slice(-1).repeat(64)}`,
      configDigest: `sha256:${'0'.repeat(64)}`,
      config: {},
      createdAt: NOW,
    });
  }
  store.setTarget({
    env: 'dev',
    service: 'hello',
    releaseId: 'rel-b',
    previousReleaseId: 'rel-a',
    updatedAt: NOW,
  });
  if (withRollout) {
    const state = {
      settings: { strategy: 'canary', steps: [{ weight: 20 }, { analysis: {} }, { weight: 100 }] },
      from: 'rel-b',
      to: 'rel-c',
      phase: withRollout.phase,
      stage: 'stepping',
      step: withRollout.step,
      weight: 20,
      verdicts: [],
    } as unknown as RolloutState;
    store.putDeployment({
      id: 'dep-1',
      service: 'hello',
      env: 'dev',
      fromRelease: 'rel-b',
      toRelease: 'rel-c',
      strategy: 'canary',
      phase: withRollout.phase,
      step: withRollout.step,
      state: state as unknown as Record<string, unknown>,
      createdAt: NOW,
      updatedAt: NOW,
    });
  }
  return store;
}

describe('action plans', () => {
  it('say what a rollback changes, with and without a rollout in progress', () => {
    const idle = planAction(world(undefined), 'rollback', 'hello', 'dev');
    expect(idle.summary).toBe('Roll back hello in dev from rel-b to rel-a.');
    expect(idle.changes[0]).toContain('rel-a (image sha256:aaaaaaaaaaaa…)');
    expect(idle.expect).toEqual({ release: 'rel-b', deployment: null, step: null, paused: null });
    const during = planAction(world({ phase: 'progressing', step: 0 }), 'rollback', 'hello', 'dev');
    expect(during.summary).toBe('Roll back hello in dev: abort the canary of rel-c.');
    expect(during.changes[0]).toContain('all traffic returns to rel-b');
    expect(during.changes[0]).toContain('rel-c has 20% now');
  });

  it('refuse what makes no sense now', () => {
    expect(() => planAction(world(undefined), 'pause', 'hello', 'dev')).toThrow(/no rollout is in progress/);
    expect(() => planAction(world({ phase: 'paused', step: 1 }), 'pause', 'hello', 'dev')).toThrow(
      /already paused/,
    );
    expect(() => planAction(world({ phase: 'progressing', step: 1 }), 'resume', 'hello', 'dev')).toThrow(
      /not paused/,
    );
    expect(() => planAction(world(undefined), 'promote', 'hello', 'prod', 'staging')).toThrow(
      /nothing has completed in staging/,
    );
    expect(() => planAction(world(undefined), 'promote', 'hello', 'dev', 'dev')).toThrow(
      /already runs rel-b/,
    );
  });

  it('describe a step of the rollout in progress', () => {
    const plan = planAction(world({ phase: 'progressing', step: 1 }), 'promote-step', 'hello', 'dev');
    expect(plan.summary).toContain('step 2 of 3, rel-c at 20%');
    expect(plan.expect).toEqual({ release: 'rel-b', deployment: 'dep-1', step: 1, paused: false });
  });
});

describe('stale views', () => {
  it('pass when nothing changed or when the caller sent no expectation (the CLI)', () => {
    const store = world({ phase: 'progressing', step: 1 });
    expect(() =>
      checkExpectation(store, 'hello', 'dev', currentExpectation(store, 'hello', 'dev')),
    ).not.toThrow();
    expect(() => checkExpectation(store, 'hello', 'dev', undefined)).not.toThrow();
  });

  it('are a conflict naming what moved, and nothing else', () => {
    const store = world({ phase: 'paused', step: 1 });
    const seen = { release: 'rel-b', deployment: 'dep-1', step: 0, paused: false };
    expect(() => checkExpectation(store, 'hello', 'dev', seen)).toThrow(
      'hello in dev changed since this view was loaded (step was 0, is 1; paused was false, is true): nothing was done',
    );
    expect(() => checkExpectation(store, 'hello', 'dev', 'yes')).toThrow(/must be an object/);
  });
});
