import { describe, expect, it } from 'vitest';
import { canaryReplicas } from './canary.js';
import { nextStep } from './machine.js';
import { metrics, World } from './test-world.js';

describe('blue/green', () => {
  it('starts every new instance behind the old release, then switches 100% at once and keeps the old warm', () => {
    const w = new World({ strategy: 'bluegreen' }, 'A', 'B', { A: 2 });
    w.tick();
    expect(w.desired.B).toBe(2);
    expect(w.weightOf('A')).toBe(100);
    expect(w.weights).toContainEqual({ release: 'B', weight: 0 });
    w.tick();
    expect(w.state).toMatchObject({ phase: 'succeeded', stage: 'warm' });
    expect(w.weights).toEqual([{ release: 'B', weight: 100 }]);
    expect(w.desired.A).toBe(2);
    w.tick(599_000);
    expect(w.desired.A).toBe(2);
    w.tick(2000);
    expect(w.desired.A).toBe(0);
    expect(w.state.stage).toBe('done');
  });

  it('never sends traffic to the new release while it is not healthy, and fails at the deadline', () => {
    const w = new World({ strategy: 'bluegreen', progressDeadlineMs: 10_000 }, 'A', 'B', { A: 2 });
    w.broken.add('B');
    for (let i = 0; i < 10; i++) {
      w.tick();
      expect(w.weightOf('B')).toBe(0);
    }
    w.tick(2000);
    expect(w.state).toMatchObject({ phase: 'failed', stage: 'done' });
    expect(w.state.reason).toMatch(/progress deadline/);
    expect(w.desired.B).toBe(0);
    expect(w.weights).toEqual([{ release: 'A', weight: 100 }]);
  });

  it('a first deployment has nothing to keep warm', () => {
    const w = new World({ strategy: 'bluegreen' }, undefined, 'B');
    w.run(5);
    expect(w.state).toMatchObject({ phase: 'succeeded', stage: 'done' });
    expect(w.weights).toEqual([{ release: 'B', weight: 100 }]);
  });
});

describe('blue/green with a preview', () => {
  const preview = { durationMs: 10_000, paths: ['/'], rps: 10, analysis: { minRequests: 20 } };

  it('holds the switch through the window, then switches when the pinned traffic passes', () => {
    const w = new World({ strategy: 'bluegreen', preview }, 'A', 'B', { A: 2 });
    w.tick();
    w.tick();
    expect(w.state.stage).toBe('previewing');
    w.canaryMetrics = metrics(50, 0, 40);
    w.tick(5_000);
    expect(w.weightOf('A')).toBe(100);
    expect(w.state.stage).toBe('previewing');
    w.tick(6_000);
    expect(w.state).toMatchObject({ phase: 'succeeded', stage: 'warm' });
    expect(w.state.verdicts.at(-1)).toMatchObject({ verdict: 'pass' });
    expect(w.weights).toEqual([{ release: 'B', weight: 100 }]);
  });

  it('rolls back without a single switched request when the preview answers errors', () => {
    const w = new World({ strategy: 'bluegreen', preview }, 'A', 'B', { A: 2 });
    w.run(2);
    w.canaryMetrics = metrics(100, 100, 5);
    w.tick(11_000);
    expect(w.state).toMatchObject({ phase: 'failed', stage: 'done' });
    expect(w.state.reason).toMatch(/^preview analysis failed: error rate 1/);
    expect(
      w.log
        .filter((a) => a.type === 'route')
        .every((a) => a.type === 'route' && a.weights.every((x) => x.release !== 'B' || x.weight === 0)),
    ).toBe(true);
    expect(w.desired.B).toBe(0);
  });

  it('waits for enough pinned requests when the analysis is inconclusive, unless told to fail', () => {
    const hold = new World({ strategy: 'bluegreen', preview }, 'A', 'B', { A: 2 });
    hold.run(2);
    hold.canaryMetrics = metrics(3, 0);
    hold.tick(11_000);
    expect(hold.state).toMatchObject({ phase: 'progressing', stage: 'previewing' });
    expect(hold.state.verdicts.at(-1)).toMatchObject({ verdict: 'inconclusive' });
    const strict = { ...preview, analysis: { minRequests: 20, inconclusive: 'fail' as const } };
    const fail = new World({ strategy: 'bluegreen', preview: strict }, 'A', 'B', { A: 2 });
    fail.run(2);
    fail.canaryMetrics = metrics(3, 0);
    fail.tick(11_000);
    expect(fail.state.reason).toMatch(/^preview analysis inconclusive/);
  });

  it('a first deployment switches at once: there is no traffic to protect', () => {
    const w = new World({ strategy: 'bluegreen', preview }, undefined, 'B');
    w.run(3);
    expect(w.state).toMatchObject({ phase: 'succeeded', stage: 'done' });
  });
});

describe('canary', () => {
  const steps = [{ weight: 20, pauseMs: 10_000 }, { analysis: {} }, { weight: 100 }];

  it('shifts weight step by step, passes analysis, promotes', () => {
    const w = new World({ strategy: 'canary', steps, replicas: 4 }, 'A', 'B', { A: 4 });
    w.tick();
    expect(w.desired.B).toBe(1);
    w.tick();
    expect(w.weightOf('B')).toBe(20);
    expect(w.state.step).toBe(0);
    w.tick(11_000);
    expect(w.state.step).toBe(1);
    w.canaryMetrics = metrics(500, 1, 120);
    w.tick();
    expect(w.state.verdicts.at(-1)).toMatchObject({ verdict: 'pass' });
    w.run(5);
    expect(w.state).toMatchObject({ phase: 'succeeded', stage: 'warm' });
    expect(w.weights).toEqual([{ release: 'B', weight: 100 }]);
    expect(w.desired.B).toBe(4);
  });

  it('rolls back automatically when the analysis fails, recording the numbers and the rule', () => {
    const w = new World({ strategy: 'canary', steps }, 'A', 'B', { A: 2 });
    w.run(3, 11_000);
    w.canaryMetrics = metrics(300, 60, 450);
    w.tick();
    expect(w.state).toMatchObject({ phase: 'failed', stage: 'done', rollbackSwitchMs: 0 });
    expect(w.state.reason).toMatch(/analysis failed: error rate 0.2 > maxErrorRate 0.01/);
    expect(w.state.verdicts.at(-1)).toMatchObject({ verdict: 'fail', canary: { requests: 300, errors: 60 } });
    expect(w.weights).toEqual([{ release: 'A', weight: 100 }]);
    expect(w.desired.B).toBe(0);
  });

  it('fails fast on clear evidence before minRequests, but never passes on too little data', () => {
    const w = new World({ strategy: 'canary', steps: [{ weight: 20 }, { analysis: {} }] }, 'A', 'B', {
      A: 2,
    });
    w.run(3);
    w.canaryMetrics = metrics(10, 0);
    w.tick();
    expect(w.state.verdicts.at(-1)).toMatchObject({ verdict: 'inconclusive' });
    expect(w.state.phase).toBe('progressing');
    w.canaryMetrics = metrics(20, 5);
    w.tick();
    expect(w.state.phase).toBe('failed');
  });

  it('holds on inconclusive analysis until the deadline, then fails saying why', () => {
    const w = new World(
      { strategy: 'canary', steps: [{ weight: 20 }, { analysis: {} }], progressDeadlineMs: 30_000 },
      'A',
      'B',
      { A: 2 },
    );
    w.run(3);
    w.canaryMetrics = metrics(5, 0);
    for (let i = 0; i < 29; i++) w.tick();
    expect(w.state.phase).toBe('progressing');
    expect(w.state.verdicts.filter((v) => v.verdict === 'inconclusive')).toHaveLength(1);
    w.tick(2000);
    expect(w.state).toMatchObject({ phase: 'failed', stage: 'done' });
    expect(w.state.reason).toMatch(/analysis stayed inconclusive \(5 requests < minRequests 100\)/);
  });

  it('with inconclusive: fail, fails once the window has passed without enough traffic', () => {
    const analysis = {
      maxErrorRate: 0.01,
      maxP99Ms: 500,
      minRequests: 100,
      windowMs: 5000,
      inconclusive: 'fail' as const,
    };
    const w = new World(
      { strategy: 'canary', steps: [{ weight: 20 }, { analysis: {} }], analysis },
      'A',
      'B',
      { A: 2 },
    );
    w.run(3);
    w.canaryMetrics = metrics(5, 0);
    w.tick();
    expect(w.state.phase).toBe('progressing');
    w.tick(6000);
    expect(w.state.reason).toMatch(/analysis inconclusive/);
  });

  it('waits at an indefinite pause until resumed, and promote-step skips a timed pause', () => {
    const w = new World(
      { strategy: 'canary', steps: [{ weight: 10 }, { pause: {} }, { weight: 50, pauseMs: 3_600_000 }] },
      'A',
      'B',
      { A: 2 },
    );
    w.run(4);
    expect(w.state.phase).toBe('paused');
    w.tick(3_600_000);
    expect(w.state).toMatchObject({ phase: 'paused', step: 1 });
    w.tick(1000, 'resume');
    expect(w.state).toMatchObject({ phase: 'progressing', step: 2 });
    w.tick();
    expect(w.weightOf('B')).toBe(50);
    w.tick(1000, 'promote-step');
    w.run(3);
    expect(w.state.phase).toBe('succeeded');
  });

  it('a user pause holds the weights; abort from any stage routes everything back', () => {
    const w = new World({ strategy: 'canary', steps: [{ weight: 30, pauseMs: 60_000 }] }, 'A', 'B', { A: 2 });
    w.run(2);
    w.tick(1000, 'pause');
    expect(w.state.phase).toBe('paused');
    w.tick(600_000);
    expect(w.weightOf('B')).toBe(30);
    w.tick(1000, 'abort');
    expect(w.state).toMatchObject({ phase: 'aborted', stage: 'done', reason: 'aborted by user' });
    expect(w.weights).toEqual([{ release: 'A', weight: 100 }]);
  });

  it('a first deployment has no canary phase: it starts in full', () => {
    const w = new World({ strategy: 'canary', steps: [{ weight: 20 }, { analysis: {} }] }, undefined, 'B');
    w.run(5);
    expect(w.state).toMatchObject({ phase: 'succeeded', stage: 'done' });
    expect(w.weights).toEqual([{ release: 'B', weight: 100 }]);
    expect(w.desired.B).toBe(2);
  });

  it('sizes the canary to its weight', () => {
    expect([
      canaryReplicas(2, 20),
      canaryReplicas(10, 20),
      canaryReplicas(10, 100),
      canaryReplicas(3, 0),
    ]).toEqual([1, 2, 10, 1]);
  });
});

describe('rolling', () => {
  it('never runs more than replicas + maxSurge, never less than replicas − maxUnavailable healthy', () => {
    const w = new World({ strategy: 'rolling', replicas: 4, maxSurge: 1, maxUnavailable: 0 }, 'A', 'B', {
      A: 4,
    });
    for (let i = 0; i < 20 && w.state.stage !== 'done'; i++) {
      w.tick();
      const total = (w.desired.A ?? 0) + (w.desired.B ?? 0);
      expect(total).toBeLessThanOrEqual(5);
      expect((w.live.A ?? 0) + (w.live.B ?? 0)).toBeGreaterThanOrEqual(4);
    }
    expect(w.state).toMatchObject({ phase: 'succeeded', stage: 'done' });
    expect(w.desired).toEqual({ A: 0, B: 4 });
    expect(w.weights).toEqual([{ release: 'B', weight: 100 }]);
  });

  it('with maxUnavailable and no surge it dips, but never below replicas − maxUnavailable', () => {
    const w = new World({ strategy: 'rolling', replicas: 4, maxSurge: 0, maxUnavailable: 2 }, 'A', 'B', {
      A: 4,
    });
    let ticks = 0;
    while (w.state.stage !== 'done' && ticks < 20) {
      w.tick();
      ticks++;
      const live = (w.desired.A ?? 0) + (w.desired.B ?? 0);
      expect(live).toBeLessThanOrEqual(4);
      expect(live).toBeGreaterThanOrEqual(2);
    }
    expect(w.state.phase).toBe('succeeded');
    expect(ticks).toBeLessThanOrEqual(5);
  });

  it('rolls back when new instances keep failing', () => {
    const w = new World({ strategy: 'rolling', replicas: 2 }, 'A', 'B', { A: 2 });
    w.tick();
    w.failures.B = 3;
    w.tick();
    expect(w.state).toMatchObject({ phase: 'failed', stage: 'done' });
    expect(w.state.reason).toMatch(/failed 3 times/);
    expect(w.desired).toMatchObject({ A: 2, B: 0 });
  });

  it('rolls back at the first start that failed for a reason that will not change, naming it', () => {
    const w = new World({ strategy: 'rolling', replicas: 2 }, 'A', 'B', { A: 2 });
    w.tick();
    w.permanent.B = 'exec: "nodex": executable file not found in $PATH';
    w.tick();
    expect(w.state).toMatchObject({ phase: 'failed', stage: 'done' });
    expect(w.state.reason).toBe(
      'B cannot start, not retried: exec: "nodex": executable file not found in $PATH',
    );
    expect(w.desired).toMatchObject({ A: 2, B: 0 });
  });
});

describe('the end of a warm period', () => {
  it('leaves the old release running when traffic or a newer rollout uses it, and never moves traffic', () => {
    const w = new World({ strategy: 'bluegreen', scaleDownDelayMs: 1000 }, 'A', 'B', { A: 2 });
    w.run(2);
    expect(w.state.stage).toBe('warm');
    const warm = w.state;
    expect(nextStep(warm, { releases: {}, inUse: ['A'] }, w.now + 5000)).toEqual({
      state: { ...warm, stage: 'done' },
      actions: [],
    });
    expect(nextStep(warm, { releases: {}, inUse: ['B'] }, w.now + 5000).actions).toEqual([
      { type: 'scale', release: 'A', replicas: 0 },
    ]);
  });
});

describe('resume', () => {
  it('continues a paused analysis step instead of skipping it', () => {
    const w = new World(
      { strategy: 'canary', steps: [{ weight: 20 }, { analysis: {} }, { weight: 100 }] },
      'A',
      'B',
      { A: 2 },
    );
    w.run(3);
    expect(w.state.step).toBe(1);
    w.tick(1000, 'pause');
    w.tick(1000, 'resume');
    expect(w.state).toMatchObject({ phase: 'progressing', step: 1 });
  });
});

describe('rollback', () => {
  it('is a weight flip when the old release is warm', () => {
    const w = new World({ strategy: 'canary', steps: [{ weight: 50, pauseMs: 60_000 }] }, 'A', 'B', { A: 2 });
    w.run(2);
    const actions = w.tick(5, 'abort');
    expect(actions[1]).toEqual({ type: 'route', weights: [{ release: 'A', weight: 100 }] });
    expect(w.state.rollbackSwitchMs).toBe(0);
  });

  it('starts the old release first when it is cold, keeping traffic where it was meanwhile', () => {
    const w = new World({ strategy: 'bluegreen', replicas: 2 }, 'A', 'B', { B: 2 });
    w.tick(1000, 'abort');
    expect(w.state.stage).toBe('rolling-back');
    expect(w.desired.A).toBe(2);
    w.tick(250);
    expect(w.state).toMatchObject({ stage: 'done', rollbackSwitchMs: 250 });
    expect(w.weights).toEqual([{ release: 'A', weight: 100 }]);
  });
});
