/**
 * Canary: work through `steps` — set a weight (and wait `pauseMs`), pause (for a time, or until
 * `cairn resume`), or run the analysis — then promote. The gateway keeps each client on one side
 * of the split (sticky hash), so raising the weight moves only newly assigned clients. Pure.
 */
import { analyse } from './analysis.js';
import { beginRollback, observe, routeAction, succeed } from './machine.js';
import type { Action, Observations, RolloutState, StepResult } from './types.js';

/** Instances the canary needs to carry `weight` percent of the traffic. */
export function canaryReplicas(replicas: number, weight: number): number {
  if (weight <= 0) return Math.min(1, replicas);
  return Math.max(1, Math.ceil((replicas * weight) / 100));
}

export function stepCanary(state: RolloutState, obs: Observations, now: number): StepResult {
  if (state.stage === 'promoting') return promote(state, obs, now);
  const step = state.settings.steps[state.step];
  if (!step) return promote({ ...state, stage: 'promoting', stageSince: now }, obs, now);
  const hold = (next: RolloutState, extra: Action[] = []): StepResult => ({
    state: next,
    actions: [
      {
        type: 'scale',
        release: state.to,
        replicas: canaryReplicas(state.settings.replicas, Math.max(next.weight, step.weight ?? 0)),
      },
      routeAction(next, next.weight),
      ...extra,
    ],
  });
  if (state.stepDone) return advance(state, obs, now);

  if (step.weight !== undefined) {
    if (observe(obs, state.to).healthy < canaryReplicas(state.settings.replicas, step.weight))
      return hold(state);
    const since = state.stepSince ?? now;
    const weighted = { ...state, weight: step.weight, stepSince: since };
    if (now - since < (step.pauseMs ?? 0)) return hold(weighted);
    return advance(weighted, obs, now);
  }
  if (step.pause) {
    const since = state.stepSince ?? now;
    if (step.pause.durationMs === undefined) return hold({ ...state, phase: 'paused', stepSince: since });
    if (now - since < step.pause.durationMs) return hold({ ...state, stepSince: since });
    return advance(state, obs, now);
  }
  return stepAnalysis(state, obs, now, hold);
}

function stepAnalysis(
  state: RolloutState,
  obs: Observations,
  now: number,
  hold: (s: RolloutState) => StepResult,
): StepResult {
  const since = state.stepSince ?? now;
  const waiting = { ...state, stepSince: since };
  if (!obs.metrics) return hold(waiting);
  const spec = { ...state.settings.analysis, ...state.settings.steps[state.step]?.analysis };
  const result = analyse(spec, obs.metrics.canary, obs.metrics.stable, obs.metrics.windowMs, now);
  if (result.verdict === 'pass')
    return advance({ ...waiting, verdicts: [...state.verdicts, result] }, obs, now);
  if (result.verdict === 'fail') {
    return beginRollback(
      { ...waiting, verdicts: [...state.verdicts, result] },
      'failed',
      `analysis failed: ${result.rule}`,
      now,
      obs,
    );
  }
  if (spec.inconclusive === 'fail' && now - since >= spec.windowMs) {
    return beginRollback(
      { ...waiting, verdicts: [...state.verdicts, result] },
      'failed',
      `analysis inconclusive: ${result.rule}`,
      now,
      obs,
    );
  }
  // Hold: keep the interim verdict visible (replacing the last interim one), wait for traffic.
  const verdicts =
    state.verdicts.at(-1)?.verdict === 'inconclusive' ? state.verdicts.slice(0, -1) : state.verdicts;
  return hold({ ...waiting, verdicts: [...verdicts, result] });
}

function advance(state: RolloutState, obs: Observations, now: number): StepResult {
  const { stepDone: _done, stepSince: _since, ...rest } = state;
  const next: RolloutState = { ...rest, phase: 'progressing', step: state.step + 1, stageSince: now };
  return stepCanary(next, obs, now);
}

function promote(state: RolloutState, obs: Observations, now: number): StepResult {
  const { replicas } = state.settings;
  if (observe(obs, state.to).healthy >= replicas) return succeed(state, now);
  return {
    state,
    actions: [{ type: 'scale', release: state.to, replicas }, routeAction(state, state.weight)],
  };
}
