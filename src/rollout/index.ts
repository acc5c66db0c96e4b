/** Rollouts: what a change would do (plan), the pure strategy state machines, analysis, and the controller. */
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
