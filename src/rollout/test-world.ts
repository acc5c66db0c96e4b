/**
 * A tiny simulated world for rollout tests: instances asked for become healthy on the next tick,
 * routes are remembered, metrics are whatever the test says. Test-only (imported by *.test.ts).
 */
import { nextStep, startRollout } from './machine.js';
import type {
  Action,
  MetricsSummary,
  Observations,
  RolloutSettings,
  RolloutState,
  UserCommand,
} from './types.js';

export const SETTINGS: RolloutSettings = {
  strategy: 'bluegreen',
  replicas: 2,
  steps: [],
  analysis: { maxErrorRate: 0.01, maxP99Ms: 500, minRequests: 100, windowMs: 60_000, inconclusive: 'hold' },
  maxSurge: 1,
  maxUnavailable: 0,
  scaleDownDelayMs: 600_000,
  progressDeadlineMs: 120_000,
};

export const metrics = (requests: number, errors: number, p99Ms = 50): MetricsSummary => ({
  requests,
  errors,
  errorRate: requests ? errors / requests : 0,
  p95Ms: p99Ms * 0.8,
  p99Ms,
});

export class World {
  now = 0;
  desired: Record<string, number> = {};
  live: Record<string, number> = {};
  failures: Record<string, number> = {};
  /** A start failure that will not change, per release (see ReleaseObservation.permanent). */
  permanent: Record<string, string> = {};
  /** Releases whose instances never become healthy. */
  broken = new Set<string>();
  weights: Array<{ release: string; weight: number }> = [];
  canaryMetrics?: MetricsSummary;
  log: Action[] = [];
  state: RolloutState;

  constructor(
    settings: Partial<RolloutSettings>,
    from: string | undefined,
    to: string,
    running: Record<string, number> = {},
  ) {
    this.live = { ...running };
    this.desired = { ...running };
    if (from) this.weights = [{ release: from, weight: 100 }];
    this.state = startRollout({ ...SETTINGS, ...settings }, from, to, this.now);
  }

  observations(command?: UserCommand): Observations {
    const releases: Observations['releases'] = {};
    for (const r of new Set([...Object.keys(this.live), ...Object.keys(this.desired)])) {
      const live = this.live[r] ?? 0;
      releases[r] = {
        live,
        healthy: this.broken.has(r) ? 0 : live,
        failures: this.failures[r] ?? 0,
        ...(this.permanent[r] ? { permanent: this.permanent[r] } : {}),
      };
    }
    return {
      releases,
      ...(this.canaryMetrics ? { metrics: { canary: this.canaryMetrics, windowMs: 60_000 } } : {}),
      ...(command ? { command } : {}),
    };
  }

  /** One controller tick: observe, decide, act; then instances converge to what was asked. */
  tick(advanceMs = 1000, command?: UserCommand): Action[] {
    this.now += advanceMs;
    const { state, actions } = nextStep(this.state, this.observations(command), this.now);
    this.state = state;
    for (const a of actions) {
      this.log.push(a);
      if (a.type === 'scale') this.desired[a.release] = a.replicas;
      else this.weights = a.weights;
    }
    this.live = { ...this.desired };
    return actions;
  }

  run(ticks: number, advanceMs = 1000): void {
    for (let i = 0; i < ticks && this.state.stage !== 'done'; i++) this.tick(advanceMs);
  }

  weightOf(release: string): number {
    return this.weights.find((w) => w.release === release)?.weight ?? 0;
  }
}
