/** The records the state store holds. Plain data; times are ISO-8601 strings in UTC. */

export interface ReleaseRecord {
  id: string;
  service: string;
  imageDigest: string;
  /** Digest of the rendered runtime config (canonical JSON of `config`). */
  configDigest: string;
  /** The rendered build + run settings this release was made from. */
  config: Record<string, unknown>;
  /** Digest of the build inputs (context files, baked files), when known. */
  sourceDigest?: string;
  specCommit?: string;
  createdAt: string;
}

export interface AttestationRecord {
  releaseId: string;
  kind: string;
  digest: string;
  mediaType: string;
  createdAt: string;
}

export type DeploymentPhase =
  | 'pending'
  | 'progressing'
  | 'paused'
  | 'succeeded'
  | 'failed'
  | 'aborted'
  | 'rolled-back';

export interface DeploymentRecord {
  id: string;
  service: string;
  env: string;
  fromRelease?: string;
  toRelease: string;
  strategy: string;
  phase: DeploymentPhase;
  step: number;
  /** Strategy-specific state machine data. */
  state: Record<string, unknown>;
  reason?: string;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
}

export type InstanceState =
  | 'starting'
  | 'healthy'
  | 'unhealthy'
  | 'draining'
  | 'stopped'
  | 'failed'
  | 'quarantined';

export interface InstanceRecord {
  id: string;
  releaseId: string;
  service: string;
  env: string;
  driver: string;
  state: InstanceState;
  /** host:port the gateway sends traffic to. */
  endpoint?: string;
  /** Driver data needed to find the instance again (container id, pid, …). */
  handle: Record<string, unknown>;
  /** What the instance must be (image digest, bundle root, config hash, …) for drift checks. */
  identity: Record<string, unknown>;
  reason?: string;
  createdAt: string;
  updatedAt: string;
  stoppedAt?: string;
}

/** Which release serves a service in an environment, and which one served before. */
export interface TargetRecord {
  env: string;
  service: string;
  releaseId: string;
  previousReleaseId?: string;
  updatedAt: string;
}

export interface EventRecord {
  seq: number;
  time: string;
  kind: string;
  env?: string;
  service?: string;
  subject?: string;
  detail: Record<string, unknown>;
}

export type NewEvent = Omit<EventRecord, 'seq' | 'time'> & { time?: string };

export interface DeploymentFilter {
  env?: string;
  service?: string;
  /** Only rollouts whose phase is pending, progressing or paused. */
  active?: boolean;
  /**
   * Only rollouts with work left: the stage of their state is not `done` (still progressing or
   * paused, rolling back, or keeping the previous release warm).
   */
  unfinished?: boolean;
  /** Only rollouts that finished at or after this time (ISO 8601). */
  finishedSince?: string;
}

export interface InstanceFilter {
  env?: string;
  service?: string;
  releaseId?: string;
  /** Only instances that are not stopped or failed. */
  live?: boolean;
}

/** What should run for one service in one environment, and how its traffic is split. */
export interface ServingRecord {
  env: string;
  service: string;
  /** Release id → desired number of instances (0: stop them all). */
  replicas: Record<string, number>;
  /** Gateway weights, in pool order. */
  weights: Array<{ release: string; weight: number }>;
  updatedAt: string;
}
