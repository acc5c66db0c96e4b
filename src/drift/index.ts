/** Proves each instance is exactly the artifact it was started from, and says what differs when it is not. */
export { type CheckInput, checkDrift, type DriftReport, reportBase } from './check.js';
export { compareFiles } from './compare-files.js';
export { foreignProcesses } from './foreign-processes.js';
export { keepForensics, MAX_COPIED_FILE_BYTES } from './forensics.js';
export {
  createHashPool,
  DEFAULT_IDLE_CLOSE_MS,
  type HashPool,
  type HashPoolOptions,
  sharedHashPool,
} from './hash-pool.js';
export { expectedIdentity } from './identity.js';
export { identityKeyPath, loadOrCreateIdentityKey, readIdentityKey } from './identity-key.js';
export { judgeDrift } from './judge.js';
export {
  type CheckTrigger,
  type DriftEnvStatus,
  DriftLoop,
  type DriftLoopDeps,
} from './loop.js';
export { bundleRootHash, manifestLeaf } from './merkle-root.js';
export { listRootfs, observePaths } from './observe-files.js';
export { addRuntimeConfig, type IdentityInput, recordIdentity } from './record-identity.js';
export {
  bundleAltered,
  DEFAULT_MIN_REPLACE_INTERVAL_MS,
  DEFAULT_QUARANTINE_AFTER,
  DEFAULT_QUARANTINE_WINDOW_MS,
  type DriftMode,
  type PastReplacement,
  planRemediation,
  type RemediationAction,
  type RemediationPolicy,
} from './remediation.js';
export type { Replacements, UnknownInstances } from './remediation-runner.js';
export { allInSync, describeReason, detectionEvent, MAX_AUDITED_REASONS, renderDrift } from './render.js';
export { keyedDigest } from './secret-hash.js';
export type * from './types.js';
export { DEFAULT_COALESCE_MS, type TreeWatcher, type WatchTreeOptions, watchTree } from './watch.js';
