/** The control plane (`cairn up`): wiring of state, audit, gateways, reconciler and rollouts, and its HTTP API and client. */

export type { DriftEnvStatus } from '../drift/index.js';
export { ApiClient, type ApiInfo, readApiInfo } from './api-client.js';
export {
  /** The cairn policies of an environment that hold at the `admission` door, as their VAPs need them. */
  admissionPolicies,
  /** Who a service may call, and who may call it (`run.network.allow`). */
  neighbours,
} from './clusters.js';
export {
  /** The workspace's pinned configuration files, by digest (`.cairn/config-files`). */
  CONFIG_FILES_DIR,
  ConfigFilePins,
} from './config-file-pins.js';
export { ControlPlane, type ControlPlaneOptions, DEFAULT_UI } from './control-plane.js';
export {
  type DriftStatus,
  driftView,
  type HistoryEntry,
  historyView,
  type RolloutView,
  type ServiceStatus,
  statusView,
} from './status.js';
