/** Mapping between SQLite rows and state records. */
import type {
  AttestationRecord,
  DeploymentRecord,
  EventRecord,
  InstanceRecord,
  ReleaseRecord,
  ServingRecord,
  TargetRecord,
} from '../types.js';

type Row = Record<string, unknown>;
const s = (v: unknown): string => v as string;
const opt = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : (v as string));
const json = (v: unknown): Record<string, unknown> => JSON.parse(v as string) as Record<string, unknown>;

export const INSERT_RELEASE = `INSERT INTO releases
  (id, service, image_digest, config_digest, config_json, source_digest, spec_commit, created_at)
  VALUES (@id, @service, @imageDigest, @configDigest, @configJson, @sourceDigest, @specCommit, @createdAt)`;

export const UPSERT_DEPLOYMENT = `INSERT INTO deployments
  (id, service, env, from_release, to_release, strategy, phase, step, state_json, reason, created_at, updated_at, finished_at)
  VALUES (@id, @service, @env, @fromRelease, @toRelease, @strategy, @phase, @step, @stateJson, @reason, @createdAt, @updatedAt, @finishedAt)
  ON CONFLICT (id) DO UPDATE SET phase = excluded.phase, step = excluded.step, state_json = excluded.state_json,
    reason = excluded.reason, updated_at = excluded.updated_at, finished_at = excluded.finished_at`;

export const UPSERT_INSTANCE = `INSERT INTO instances
  (id, release_id, service, env, driver, state, endpoint, handle_json, identity_json, reason, created_at, updated_at, stopped_at)
  VALUES (@id, @releaseId, @service, @env, @driver, @state, @endpoint, @handleJson, @identityJson, @reason, @createdAt, @updatedAt, @stoppedAt)
  ON CONFLICT (id) DO UPDATE SET release_id = excluded.release_id, service = excluded.service, env = excluded.env,
    state = excluded.state, endpoint = excluded.endpoint, handle_json = excluded.handle_json,
    identity_json = excluded.identity_json, reason = excluded.reason, updated_at = excluded.updated_at,
    stopped_at = excluded.stopped_at`;

export function fromRelease(r: ReleaseRecord): Row {
  return {
    ...r,
    configJson: JSON.stringify(r.config),
    config: undefined,
    sourceDigest: r.sourceDigest ?? null,
    specCommit: r.specCommit ?? null,
  };
}

export function toRelease(row: unknown): ReleaseRecord {
  const r = row as Row;
  return {
    id: s(r.id),
    service: s(r.service),
    imageDigest: s(r.image_digest),
    configDigest: s(r.config_digest),
    config: json(r.config_json),
    sourceDigest: opt(r.source_digest),
    specCommit: opt(r.spec_commit),
    createdAt: s(r.created_at),
  };
}

export function toAttestation(row: unknown): AttestationRecord {
  const r = row as Row;
  return {
    releaseId: s(r.release_id),
    kind: s(r.kind),
    digest: s(r.digest),
    mediaType: s(r.media_type),
    createdAt: s(r.created_at),
  };
}

export function fromDeployment(d: DeploymentRecord): Row {
  return {
    ...d,
    state: undefined,
    stateJson: JSON.stringify(d.state),
    fromRelease: d.fromRelease ?? null,
    reason: d.reason ?? null,
    finishedAt: d.finishedAt ?? null,
  };
}

export function toDeployment(row: unknown): DeploymentRecord {
  const r = row as Row;
  return {
    id: s(r.id),
    service: s(r.service),
    env: s(r.env),
    fromRelease: opt(r.from_release),
    toRelease: s(r.to_release),
    strategy: s(r.strategy),
    phase: s(r.phase) as DeploymentRecord['phase'],
    step: r.step as number,
    state: json(r.state_json),
    reason: opt(r.reason),
    createdAt: s(r.created_at),
    updatedAt: s(r.updated_at),
    finishedAt: opt(r.finished_at),
  };
}

export function fromInstance(i: InstanceRecord): Row {
  return {
    ...i,
    handle: undefined,
    identity: undefined,
    handleJson: JSON.stringify(i.handle),
    identityJson: JSON.stringify(i.identity),
    endpoint: i.endpoint ?? null,
    reason: i.reason ?? null,
    stoppedAt: i.stoppedAt ?? null,
  };
}

export function toInstance(row: unknown): InstanceRecord {
  const r = row as Row;
  return {
    id: s(r.id),
    releaseId: s(r.release_id),
    service: s(r.service),
    env: s(r.env),
    driver: s(r.driver),
    state: s(r.state) as InstanceRecord['state'],
    endpoint: opt(r.endpoint),
    handle: json(r.handle_json),
    identity: json(r.identity_json),
    reason: opt(r.reason),
    createdAt: s(r.created_at),
    updatedAt: s(r.updated_at),
    stoppedAt: opt(r.stopped_at),
  };
}

export function toTarget(row: unknown): TargetRecord {
  const r = row as Row;
  return {
    env: s(r.env),
    service: s(r.service),
    releaseId: s(r.release_id),
    previousReleaseId: opt(r.previous_release_id),
    updatedAt: s(r.updated_at),
  };
}

export function toEvent(row: unknown): EventRecord {
  const r = row as Row;
  return {
    seq: r.seq as number,
    time: s(r.time),
    kind: s(r.kind),
    env: opt(r.env),
    service: opt(r.service),
    subject: opt(r.subject),
    detail: json(r.detail_json),
  };
}

export function toServing(row: unknown): ServingRecord {
  const r = row as Row;
  return {
    env: s(r.env),
    service: s(r.service),
    replicas: JSON.parse(r.replicas_json as string) as Record<string, number>,
    weights: JSON.parse(r.weights_json as string) as ServingRecord['weights'],
    updatedAt: s(r.updated_at),
  };
}
