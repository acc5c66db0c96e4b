/**
 * Blue/green: start the full replica count of the new release beside the old one (reachable only
 * through the pin header, weight 0), wait until all are healthy, then — with a `preview` — hold
 * the switch for the preview window and analyse the new release's own traffic (what testers and
 * cairn's preview requests sent it through the pin header), as Argo Rollouts' pre-promotion
 * analysis does; switch 100% at once when it passes, roll back when it fails. Pure.
 */
import { analyse } from './analysis.js';
import { beginRollback, observe, routeAction, succeed } from './machine.js';
import type { Observations, RolloutState, StepResult } from './types.js';

export function stepBlueGreen(state: RolloutState, obs: Observations, now: number): StepResult {
  const { replicas, preview } = state.settings;
  const hold = (next: RolloutState): StepResult => ({
    state: next,
    actions: [{ type: 'scale', release: state.to, replicas }, routeAction(next, 0)],
  });
  if (observe(obs, state.to).healthy < replicas) return hold(state);
  // A first deployment has no traffic to protect: it has nothing to preview against.
  if (!preview || !state.from) return succeed(state, now);
  if (state.stage !== 'previewing') return hold({ ...state, stage: 'previewing', stageSince: now });
  if (now - state.stageSince < preview.durationMs || !obs.metrics) return hold(state);
  const spec = { ...state.settings.analysis, ...preview.analysis };
  const result = analyse(spec, obs.metrics.canary, obs.metrics.stable, obs.metrics.windowMs, now);
  const verdicts =
    state.verdicts.at(-1)?.verdict === 'inconclusive' ? state.verdicts.slice(0, -1) : state.verdicts;
  const judged = { ...state, verdicts: [...verdicts, result] };
  if (result.verdict === 'pass') return succeed(judged, now);
  if (result.verdict === 'fail' || spec.inconclusive === 'fail') {
    const why = result.verdict === 'fail' ? 'failed' : 'inconclusive';
    return beginRollback(judged, 'failed', `preview analysis ${why}: ${result.rule}`, now, obs);
  }
  return hold(judged);
}
