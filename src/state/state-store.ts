/**
 * The `StateStore` interface: transactions over releases, deployments, instances, targets and
 * events. SQLite implements it now; the method set is plain data in and out so that PostgreSQL can
 * follow (its implementation would run the same calls inside one database transaction).
 */
import type {
  AttestationRecord,
  DeploymentFilter,
  DeploymentRecord,
  EventRecord,
  InstanceFilter,
  InstanceRecord,
  NewEvent,
  ReleaseRecord,
  ServingRecord,
  TargetRecord,
} from './types.js';

export interface StateReader {
  getRelease(id: string): ReleaseRecord | undefined;
  listReleases(service?: string): ReleaseRecord[];
  listAttestations(releaseId: string): AttestationRecord[];
  getDeployment(id: string): DeploymentRecord | undefined;
  listDeployments(filter?: DeploymentFilter): DeploymentRecord[];
  getInstance(id: string): InstanceRecord | undefined;
  listInstances(filter?: InstanceFilter): InstanceRecord[];
  getTarget(env: string, service: string): TargetRecord | undefined;
  listTargets(env?: string): TargetRecord[];
  listEvents(filter?: { afterSeq?: number; env?: string; service?: string; limit?: number }): EventRecord[];
  getServing(env: string, service: string): ServingRecord | undefined;
  listServing(env?: string): ServingRecord[];
}

export interface StateWriter extends StateReader {
  /** Writes a release once; writing the same id again with the same content is a no-op. */
  putRelease(release: ReleaseRecord): void;
  addAttestation(attestation: AttestationRecord): void;
  putDeployment(deployment: DeploymentRecord): void;
  putInstance(instance: InstanceRecord): void;
  setTarget(target: TargetRecord): void;
  appendEvent(event: NewEvent): EventRecord;
  setServing(serving: ServingRecord): void;
}

export interface StateStore extends StateReader {
  readonly kind: string;
  /** Runs `fn` in one transaction: every write lands, or none does. Not re-entrant across awaits. */
  transaction<T>(fn: (tx: StateWriter) => T): T;
  close(): void;
}
