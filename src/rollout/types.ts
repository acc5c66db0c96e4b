/**
 * The data of a rollout state machine. A strategy is a pure function
 * `nextStep(state, observations, now) → { state, actions }`; the controller persists the new state
 * in one transaction, then carries out the actions. Actions are declarative ("run N instances of
 * R", "route these weights"), so carrying them out again after a crash is harmless.
 */
import type { AnalysisSpec, CanaryStep, PreviewSpec, Strategy } from '../spec/types.js';

export type Phase = 'progressing' | 'paused' | 'succeeded' | 'failed' | 'aborted';

/** Where within its phase a rollout is. */
export type Stage =
  | 'scaling' // waiting for new instances to be healthy
  | 'stepping' // canary: working through steps
  | 'promoting' // all traffic moving to the new release
  | 'previewing' // blue/green: the new release healthy, reachable by the pin header, being analysed
  | 'warm' // done; the old release kept warm until scaleDownAt
  | 'rolling-back' // traffic going back to the old release
  | 'done';

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface AnalysisResult {
  verdict: Verdict;
  /** The rule that decided, e.g. "error rate 0.2 > maxErrorRate 0.01". */
  rule: string;
  canary: MetricsSummary;
  stable?: MetricsSummary;
  windowMs: number;
  at: number;
}

export interface MetricsSummary {
  requests: number;
  errors: number;
  errorRate: number;
  p95Ms: number;
  p99Ms: number;
}

export interface RolloutSettings {
  strategy: Strategy | 'rollback';
  replicas: number;
  steps: CanaryStep[];
  analysis: AnalysisSpec;
  maxSurge: number;
  maxUnavailable: number;
  scaleDownDelayMs: number;
  progressDeadlineMs: number;
  /** Blue/green: analyse the new release's pinned traffic this long before switching. */
  preview?: PreviewSpec;
}

export interface RolloutState {
  settings: RolloutSettings;
  /** The release serving before (undefined for a first deployment). */
  from?: string;
  to: string;
  phase: Phase;
  stage: Stage;
  /** Canary: index of the current step. */
  step: number;
  /** Canary: weight of the new release now. */
  weight: number;
  stageSince: number;
  /** When the current step started waiting (pause, analysis). */
  stepSince?: number;
  /** A finished pause or a satisfied analysis lets the step advance. */
  stepDone?: boolean;
  scaleDownAt?: number;
  verdicts: AnalysisResult[];
  reason?: string;
  /** When traffic started moving back, and how long the switch took. */
  rollbackStartedAt?: number;
  rollbackSwitchMs?: number;
  startedAt: number;
  finishedAt?: number;
}

export interface ReleaseObservation {
  /** Instances not stopped (starting, healthy, unhealthy). */
  live: number;
  healthy: number;
  /** Instances that crashed or failed health since the rollout began. */
  failures: number;
  /** The latest failure's reason in words (address, probe error, the instance's last output). */
  lastFailure?: string;
  /** Set when an instance cannot start for a reason that will not change: the rollout fails at once. */
  permanent?: string;
}

export type UserCommand = 'abort' | 'pause' | 'resume' | 'promote-step';

export interface Observations {
  releases: Record<string, ReleaseObservation>;
  /** Metrics of the new and old release over the analysis window, when the controller has them. */
  metrics?: { canary: MetricsSummary; stable?: MetricsSummary; windowMs: number };
  command?: UserCommand;
  /** Releases that traffic or a newer rollout still needs; a warm period's end leaves them running. */
  inUse?: string[];
}

export type Action =
  | { type: 'scale'; release: string; replicas: number }
  | { type: 'route'; weights: Array<{ release: string; weight: number }> };

export interface StepResult {
  state: RolloutState;
  actions: Action[];
}
