/** Rollouts: what a change would do (plan), the pure strategy state machines, analysis, and the controller. */
export { analyse } from './analysis.js';
export { canaryReplicas } from './canary.js';
export { applyActions, type ControllerDeps, RolloutController, transitions } from './controller.js';
export { beginRollback, nextStep, startRollout } from './machine.js';
export {
  type Change,
  type CurrentService,
  type DesiredService,
  diffValues,
  type Plan,
  type PlanAction,
  type PlanItem,
  planChanges,
} from './plan.js';
export { renderPlan } from './plan-render.js';
export type * from './types.js';
