/**
 * What a dashboard action will change, said before it is done, and the guard that keeps it from
 * acting on a view that is out of date: the plan carries what the page saw (serving release, the
 * rollout, its step); the action sends it back as `expect`, and a mismatch is a conflict, not an
 * action. Pure over a state reader.
 */
import { ConflictError, ValidationError } from '../lib/index.js';
import type { RolloutState } from '../rollout/index.js';
import type { DeploymentRecord, StateReader } from '../state/index.js';

export const ACTIONS = ['rollback', 'promote', 'abort', 'pause', 'resume', 'promote-step'] as const;
export type Action = (typeof ACTIONS)[number];

/** What the page saw when it asked for the plan. */
export interface Expectation {
  release: string | null;
  deployment: string | null;
  step: number | null;
  paused: boolean | null;
}

export interface ActionPlan {
  action: Action;
  service: string;
  env: string;
  /** For promote: the environment the release comes from. */
  from?: string;
  /** One sentence, e.g. "Switch hello in dev from rel-b to rel-a at once." */
  summary: string;
  /** Each change as a line: traffic, instances, what stays. */
  changes: string[];
  expect: Expectation;
}

export function isAction(value: unknown): value is Action {
  return typeof value === 'string' && (ACTIONS as readonly string[]).includes(value);
}

function active(store: StateReader, service: string, env: string): DeploymentRecord | undefined {
  return store.listDeployments({ env, service, active: true })[0];
}

export function currentExpectation(store: StateReader, service: string, env: string): Expectation {
  const d = active(store, service, env);
  const s = d?.state as unknown as RolloutState | undefined;
  return {
    release: store.getTarget(env, service)?.releaseId ?? null,
    deployment: d?.id ?? null,
    step: s ? s.step : null,
    paused: s ? s.phase === 'paused' : null,
  };
}

/** Refuses when what the caller saw is no longer so; `expect` absent (the CLI) always passes. */
export function checkExpectation(store: StateReader, service: string, env: string, expect: unknown): void {
  if (expect === undefined) return;
  if (typeof expect !== 'object' || expect === null)
    throw new ValidationError('reading the request: "expect" must be an object', []);
  const now = currentExpectation(store, service, env);
  const seen = expect as Partial<Expectation>;
  const moved = (Object.keys(now) as Array<keyof Expectation>).filter((k) => k in seen && seen[k] !== now[k]);
  if (moved.length === 0) return;
  const what = moved.map((k) => `${k} was ${String(seen[k])}, is ${String(now[k])}`).join('; ');
  throw new ConflictError(
    `${service} in ${env} changed since this view was loaded (${what}): nothing was done`,
    {
      hint: 'look at the current state and confirm again',
    },
  );
}

function describe(store: StateReader, releaseId: string | undefined): string {
  if (!releaseId) return 'nothing';
  const r = store.getRelease(releaseId);
  return r ? `${releaseId} (image ${r.imageDigest.slice(0, 19)}…)` : releaseId;
}

/** The plan of an action; throws a ValidationError when the action makes no sense now. */
export function planAction(
  store: StateReader,
  action: Action,
  service: string,
  env: string,
  from?: string,
): ActionPlan {
  const expect = currentExpectation(store, service, env);
  const d = active(store, service, env);
  const s = d?.state as unknown as RolloutState | undefined;
  const base = { action, service, env, expect };
  const nothing = (why: string) =>
    new ValidationError(`${action} ${service} in ${env}: ${why}`, [], {
      hint: 'the page shows what is running now',
    });
  if (action === 'promote') {
    if (!from) throw nothing('say which environment to promote from');
    const source = store.getTarget(from, service);
    if (!source) throw nothing(`nothing has completed in ${from} yet`);
    if (source.releaseId === expect.release) throw nothing(`${env} already runs ${source.releaseId}`);
    return {
      ...base,
      from,
      summary: `Promote ${service} from ${from} to ${env}: deploy ${source.releaseId}, the same image, unchanged.`,
      changes: [
        `${env} now serves ${describe(store, expect.release ?? undefined)}`,
        `${describe(store, source.releaseId)} is deployed by ${env}'s strategy after ${env}'s gates pass`,
        'confirming also gives the approval the environment asks for, recorded under your name',
      ],
    };
  }
  if (action === 'rollback') {
    if (d && s) {
      return {
        ...base,
        summary: `Roll back ${service} in ${env}: abort the ${d.strategy} of ${s.to}.`,
        changes: [
          `all traffic returns to ${describe(store, s.from)} at once (${s.to} has ${s.weight}% now)`,
          `instances of ${s.to} are drained and stopped`,
        ],
      };
    }
    const previous = store.getTarget(env, service)?.previousReleaseId;
    if (!previous) throw nothing('there is no previous release');
    return {
      ...base,
      summary: `Roll back ${service} in ${env} from ${expect.release} to ${previous}.`,
      changes: [
        `traffic switches to ${describe(store, previous)} once its instances are healthy`,
        `${describe(store, expect.release ?? undefined)} is drained and stopped`,
        'the gates of the environment are checked again for the older release',
      ],
    };
  }
  if (!d || !s) throw nothing('no rollout is in progress');
  const at = `step ${s.step + 1} of ${s.settings.steps.length}, ${s.to} at ${s.weight}%`;
  const plans: Record<'abort' | 'pause' | 'resume' | 'promote-step', [string, string[]]> = {
    abort: [
      `Abort the ${d.strategy} of ${s.to} in ${env} (${at}).`,
      [`all traffic returns to ${describe(store, s.from)} at once`, `instances of ${s.to} are stopped`],
    ],
    pause: [
      `Pause the ${d.strategy} of ${s.to} in ${env} (${at}).`,
      ['traffic stays split as it is; analysis keeps running and can still roll back'],
    ],
    resume: [
      `Resume the ${d.strategy} of ${s.to} in ${env} (${at}).`,
      ['the rollout carries on from this step'],
    ],
    'promote-step': [
      `Go to the next step of the ${d.strategy} of ${s.to} in ${env} now (${at}).`,
      ['the wait of this step is skipped; the next weight applies at once'],
    ],
  };
  const [summary, changes] = plans[action];
  if (action === 'pause' && expect.paused) throw nothing('the rollout is already paused');
  if (action === 'resume' && !expect.paused) throw nothing('the rollout is not paused');
  return { ...base, summary, changes };
}
