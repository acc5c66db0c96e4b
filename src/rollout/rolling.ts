/**
 * Rolling replace: at most `maxSurge` instances above the replica count and at most
 * `maxUnavailable` below it at any time; an old instance stops only once a new one is healthy.
 * Traffic follows healthy instances. Pure.
 */
import { observe, succeed } from './machine.js';
import type { Observations, RolloutState, StepResult } from './types.js';

export function stepRolling(state: RolloutState, obs: Observations, now: number): StepResult {
  const { replicas, maxSurge, maxUnavailable } = state.settings;
  const next = observe(obs, state.to);
  const old = observe(obs, state.from);
  if (next.healthy >= replicas && old.live === 0)
    return succeed({ ...state, settings: { ...state.settings, scaleDownDelayMs: 0 } }, now);
  const newTarget = Math.min(replicas, Math.max(next.live, replicas + maxSurge - old.live));
  const minAvailable = replicas - maxUnavailable;
  const oldTarget = Math.max(0, Math.min(old.live, minAvailable - next.healthy, replicas - next.healthy));
  const total = next.healthy + Math.min(old.healthy, oldTarget);
  const weight = total === 0 ? 0 : Math.round((100 * next.healthy) / total);
  const actions: StepResult['actions'] = [{ type: 'scale', release: state.to, replicas: newTarget }];
  if (state.from) actions.push({ type: 'scale', release: state.from, replicas: oldTarget });
  const weights = [{ release: state.to, weight }];
  if (state.from) weights.unshift({ release: state.from, weight: 100 - weight });
  actions.push({ type: 'route', weights });
  return { state: { ...state, weight }, actions };
}
