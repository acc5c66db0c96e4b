/**
 * The control plane as its clients see it: the API client, the `api.json` reader and the wire types.
 * A second entry of this capability, so that a CLI verb that only talks to `cairn up` (status, ps,
 * deploy, …) starts without loading the control plane, SQLite, CEL or the signature libraries.
 */

export type { DiskView } from '../lib/disk-watch.js';
export { API_FILE, ApiClient, type ApiInfo, readApiInfo } from './api-client.js';
export { type EdgeChange, type EdgePlan, renderEdgePlan } from './edge-plan.js';
export type { DriftStatus, HistoryEntry } from './status.js';
export type { InstanceView, ReleaseView, RolloutView, ServiceStatus } from './views.js';
