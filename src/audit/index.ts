/**
 * The tamper-evident audit log: every change recorded as an RFC 6962 Merkle leaf in state.db,
 * signed checkpoints (C2SP signed notes), inclusion and consistency proofs, export and offline
 * verification.
 *
 * @example
 * ```ts
 * const audit = openAuditLog(store, { keyDir: ws.keys });
 * store.transaction((tx) => {
 *   tx.setTarget(target);
 *   audit.record({ action: 'deploy.succeeded', subject: { service: 'hello', env: 'prod', release: target.releaseId } });
 * });
 * audit.close(); // on shutdown: signs the entries not yet covered by a checkpoint
 * ```
 */

import type { KeyObject } from 'node:crypto';
import type { SqliteStateStore } from '../state/index.js';
import type { AuditEntry, AuditEvent } from './entry.js';
import { type AuditLogOptions, SqliteAuditLog } from './sqlite-audit-log.js';
import type { AuditFilter, Checkpoint, ConsistencyProof, InclusionProof } from './sqlite-audit-reader.js';
import type { VerifyReport } from './verify.js';

export { defaultOrigin, parseCheckpoint, verifierKey, verifyCheckpoint } from './checkpoint.js';
export { recordFromCommand } from './cli-record.js';
export {
  type AuditEntry,
  type AuditEvent,
  type AuditSubject,
  looksSecret,
  REDACTED,
  redactSecrets,
} from './entry.js';
export { verifyExportFile } from './export-file.js';
export { formatEntryLine } from './format.js';
export {
  AUDIT_PRIVATE_KEY_FILE,
  AUDIT_PUBLIC_KEY_FILE,
  auditPublicKeyPath,
  createAuditKey,
  readAuditPublicKey,
} from './keys.js';
export { EMPTY_ROOT, leafHash, MerkleTree, merkleRoot, nodeHash } from './merkle.js';
export { rootFromInclusionProof, verifyConsistency, verifyInclusion } from './proof.js';
export {
  type AuditLogOptions,
  DEFAULT_CHECKPOINT_EVERY_ENTRIES,
  DEFAULT_CHECKPOINT_EVERY_MS,
} from './sqlite-audit-log.js';
export type { AuditFilter, Checkpoint, ConsistencyProof, InclusionProof } from './sqlite-audit-reader.js';
export { formatTlogProof, parseTlogProof, type TlogProofVerdict, verifyTlogProof } from './tlog-proof.js';
export { type Finding, type VerifyReport, verifyLog } from './verify.js';
export { recordWorkspaceInit } from './workspace-init.js';

/** The recorder every capability uses, and the reads `cairn audit` and `cairn trace` need. */
export interface AuditLog {
  /** The checkpoint origin (undefined in a workspace without the audit key). */
  readonly origin: string | undefined;
  /** Appends one entry. Call inside the caller's `store.transaction` so change and record land together; synchronous. */
  record(event: AuditEvent): AuditEntry;
  /**
   * Appends one entry that goes with no state change (group commit): events queued in the same
   * turn of the event loop share one transaction and one fsync (with the checkpoints they make
   * due); the promise resolves only once
   * that transaction has committed, and rejects (ValidationError) for a malformed event alone.
   *
   * @example
   * ```ts
   * await Promise.all(failures.map((f) => audit.recordDurably({ action: 'api.auth_failed', subject: {}, detail: f })));
   * ```
   */
  recordDurably(event: AuditEvent): Promise<AuditEntry>;
  /** Signs the current tree head (returns the latest one when nothing was added since). */
  checkpoint(): Checkpoint;
  /** Signs when N entries or T ms have passed since the last checkpoint; call from a timer. */
  checkpointIfDue(): Checkpoint | undefined;
  /** On shutdown: signs entries not yet covered by a checkpoint. Does not close the store. */
  close(): void;
  /** Number of entries. */
  size(): number;
  list(filter?: AuditFilter): AuditEntry[];
  checkpoints(): Checkpoint[];
  latestCheckpoint(): Checkpoint | undefined;
  /** Inclusion proof of entry `index` against the latest checkpoint (signing one first if it is not covered). */
  prove(index: number): InclusionProof;
  /** Consistency proof from the tree of `size1` entries to the latest checkpoint. */
  proveConsistency(size1: number): ConsistencyProof;
  /** Recomputes the tree and checks every checkpoint; with the workspace's audit.pub unless a key is given. */
  verify(publicKey?: KeyObject): VerifyReport;
  /** Writes the export file (header, checkpoints, entries) through `write`. */
  exportTo(write: (text: string) => void, publicKey?: KeyObject): void;
  /** The workspace's audit public key. */
  publicKey(): KeyObject;
}

/**
 * Opens the audit log on the state store's database (the `audit` migration must have run, which
 * `openStateStore` does). Signing needs `keyDir/audit.key`; without it the log still records and reads.
 */
export function openAuditLog(
  store: SqliteStateStore,
  opts: { keyDir: string; origin?: string; now?: () => Date } & Partial<AuditLogOptions>,
): AuditLog {
  return new SqliteAuditLog(store, opts);
}
