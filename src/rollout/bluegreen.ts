/**
 * Blue/green: start the full replica count of the new release beside the old one (reachable only
 * through the pin header, weight 0), wait until all are healthy, switch 100% at once. Pure.
 */
import { observe, routeAction, succeed } from './machine.js';
import type { Observations, RolloutState, StepResult } from './types.js';

export function stepBlueGreen(state: RolloutState, obs: Observations, now: number): StepResult {
  const { replicas } = state.settings;
  if (observe(obs, state.to).healthy >= replicas) return succeed(state, now);
  return {
    state,
    actions: [{ type: 'scale', release: state.to, replicas }, routeAction(state, 0)],
  };
}
