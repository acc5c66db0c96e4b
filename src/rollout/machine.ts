/**
 * The rollout state machine shared by every strategy: user commands, deadlines, failing new
 * instances, rollback and the warm period; each strategy supplies only how it progresses. Pure.
 */
import { stepBlueGreen } from './bluegreen.js';
import { stepCanary } from './canary.js';
import { stepRolling } from './rolling.js';
import type {
  Action,
  Observations,
  ReleaseObservation,
  RolloutSettings,
  RolloutState,
  StepResult,
} from './types.js';

const NONE: ReleaseObservation = { live: 0, healthy: 0, failures: 0 };

export const observe = (obs: Observations, release: string | undefined): ReleaseObservation =>
  (release && obs.releases[release]) || NONE;

export function startRollout(
  settings: RolloutSettings,
  from: string | undefined,
  to: string,
  now: number,
): RolloutState {
  return {
    settings,
    ...(from && from !== to ? { from } : {}),
    to,
    phase: 'progressing',
    stage: settings.strategy === 'canary' && from && from !== to ? 'stepping' : 'scaling',
    step: 0,
    weight: 0,
    stageSince: now,
    verdicts: [],
    startedAt: now,
  };
}

/** Traffic split between the old and new release, as a route action. */
export function routeAction(state: RolloutState, newWeight: number): Action {
  const weights = [{ release: state.to, weight: newWeight }];
  if (state.from) weights.unshift({ release: state.from, weight: 100 - newWeight });
  return { type: 'route', weights };
}

export function nextStep(state: RolloutState, obs: Observations, now: number): StepResult {
  if (state.stage === 'done') return { state, actions: [] };
  if (state.stage === 'rolling-back') return stepRollback(state, obs, now);
  if (state.stage === 'warm') return stepWarm(state, obs, now);
  const commanded = applyCommand(state, obs, now);
  if (commanded) return commanded;
  if (state.phase === 'paused') return { state, actions: holdActions(state) };
  const target = observe(obs, state.to);
  if (target.permanent) {
    return beginRollback(
      state,
      'failed',
      `${state.to} cannot start, not retried: ${target.permanent}`,
      now,
      obs,
    );
  }
  if (target.failures > state.settings.replicas) {
    const last = target.lastFailure ? `; last: ${target.lastFailure}` : '';
    return beginRollback(
      state,
      'failed',
      `new instances of ${state.to} failed ${target.failures} times${last}`,
      now,
      obs,
    );
  }
  if (now - state.stageSince > state.settings.progressDeadlineMs) {
    const last = state.verdicts.at(-1);
    const why =
      last?.verdict === 'inconclusive'
        ? `analysis stayed inconclusive (${last.rule})`
        : `no progress in stage ${state.stage}`;
    return beginRollback(
      state,
      'failed',
      `progress deadline of ${state.settings.progressDeadlineMs}ms passed: ${why}`,
      now,
      obs,
    );
  }
  // A first deployment has nothing to compare with or fall back to: it starts in full.
  if (!state.from) return stepBlueGreen(state, obs, now);
  switch (state.settings.strategy) {
    case 'canary':
      return stepCanary(state, obs, now);
    case 'rolling':
      return stepRolling(state, obs, now);
    default:
      return stepBlueGreen(state, obs, now);
  }
}

function applyCommand(state: RolloutState, obs: Observations, now: number): StepResult | undefined {
  switch (obs.command) {
    case 'abort':
      return beginRollback(state, 'aborted', 'aborted by user', now, obs);
    case 'pause':
      return { state: { ...state, phase: 'paused' }, actions: holdActions(state) };
    case 'resume': {
      // Resuming passes an indefinite pause step; any other step carries on where it was.
      const step = state.settings.steps[state.step];
      const atIndefinitePause =
        state.settings.strategy === 'canary' &&
        step?.pause !== undefined &&
        step.pause.durationMs === undefined;
      const resumed = {
        ...state,
        phase: 'progressing' as const,
        stageSince: now,
        ...(atIndefinitePause ? { stepDone: true } : {}),
      };
      return nextStep(resumed, { ...obs, command: undefined }, now);
    }
    case 'promote-step':
      return nextStep(
        { ...state, phase: 'progressing', stepDone: true, stageSince: now },
        { ...obs, command: undefined },
        now,
      );
    default:
      return undefined;
  }
}

/** While paused, keep what is there: same instances, same weights. */
function holdActions(state: RolloutState): Action[] {
  return state.settings.strategy === 'canary' ? [routeAction(state, state.weight)] : [];
}

/** Ends a successful switch: all traffic on the new release, the old one kept warm for a while. */
export function succeed(state: RolloutState, now: number): StepResult {
  const warm = state.from !== undefined && state.settings.scaleDownDelayMs > 0;
  const next: RolloutState = {
    ...state,
    phase: 'succeeded',
    stage: warm ? 'warm' : 'done',
    weight: 100,
    stageSince: now,
    finishedAt: now,
    ...(warm ? { scaleDownAt: now + state.settings.scaleDownDelayMs } : {}),
  };
  // Declarative and complete: what serves now, and how many of it, whatever happened before.
  const actions: Action[] = [
    { type: 'scale', release: state.to, replicas: state.settings.replicas },
    { type: 'route', weights: [{ release: state.to, weight: 100 }] },
  ];
  if (state.from && !warm) actions.push({ type: 'scale', release: state.from, replicas: 0 });
  return { state: next, actions };
}

/**
 * The end of the warm period stops the old release — unless something newer uses it (it serves
 * again after a rollback, or a later rollout keeps it). Traffic is not touched: the switch
 * happened when the rollout succeeded, and later rollouts own the split since.
 */
function stepWarm(state: RolloutState, obs: Observations, now: number): StepResult {
  if (state.scaleDownAt !== undefined && now < state.scaleDownAt) return { state, actions: [] };
  const stillUsed = !state.from || (obs.inUse ?? []).includes(state.from);
  const actions: Action[] = stillUsed ? [] : [{ type: 'scale', release: state.from!, replicas: 0 }];
  return { state: { ...state, stage: 'done' }, actions };
}

export function beginRollback(
  state: RolloutState,
  phase: 'failed' | 'aborted',
  reason: string,
  now: number,
  obs: Observations,
): StepResult {
  const next: RolloutState = {
    ...state,
    phase,
    reason,
    stage: 'rolling-back',
    stageSince: now,
    rollbackStartedAt: now,
    finishedAt: now,
  };
  return stepRollback(next, obs, now);
}

/** Traffic back to the old release: a weight flip when it is warm, else start it first. */
function stepRollback(state: RolloutState, obs: Observations, now: number): StepResult {
  if (!state.from) {
    return {
      state: { ...state, stage: 'done' },
      actions: [
        { type: 'route', weights: [] },
        { type: 'scale', release: state.to, replicas: 0 },
      ],
    };
  }
  const ensureOld: Action = { type: 'scale', release: state.from, replicas: state.settings.replicas };
  if (observe(obs, state.from).healthy < Math.min(1, state.settings.replicas)) {
    return { state, actions: [ensureOld, routeAction(state, state.weight)] };
  }
  const switchMs = now - (state.rollbackStartedAt ?? now);
  return {
    state: { ...state, stage: 'done', weight: 0, rollbackSwitchMs: switchMs },
    actions: [
      ensureOld,
      { type: 'route', weights: [{ release: state.from, weight: 100 }] },
      { type: 'scale', release: state.to, replicas: 0 },
    ],
  };
}
