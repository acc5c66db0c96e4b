/**
 * Starts and stops instances of releases through the runtime driver, and records every start,
 * stop and failure in the state store and the audit log in the same transaction.
 */
import type { AuditEvent, AuditLog } from '../audit/index.js';
import { addRuntimeConfig, recordIdentity } from '../drift/index.js';
import { newInstanceId } from '../lib/index.js';
import {
  type BlobSource,
  folderSize,
  freeLoopbackPort,
  type InstanceHandle,
  lastOutput,
  type RuntimeDriver,
  type SvidFiles,
  volumeDir,
} from '../runtime/index.js';
import type { Injection } from '../secrets/index.js';
import type { RunSpec } from '../spec/index.js';
import type { InstanceRecord, InstanceState, ReleaseRecord, SqliteStateStore } from '../state/index.js';
import { prepareOffThread } from './prepare-worker.js';

export const CONTROL_PLANE_ACTOR = 'cairn-up';

export interface InstanceManagerDeps {
  store: SqliteStateStore;
  audit: AuditLog;
  driver: RuntimeDriver;
  images: BlobSource;
  /** Where unpacking happens off the main thread (store and bundles folders); in-thread when absent. */
  offThread?: { storeDir: string; bundlesDir: string };
  /** The secret values an instance of a release gets (see SecretAccess); never logged or recorded. */
  secrets?: (release: ReleaseRecord) => Promise<Injection>;
  /** The pinned content of the release's configuration files (path → bytes); none when absent. */
  configFiles?: (release: ReleaseRecord) => Promise<Record<string, Uint8Array>>;
  /** Admission: throws when the release may not run in `env` (its gates deny it). */
  admit?: (release: ReleaseRecord, env: string) => Promise<void>;
  /** `.cairn/volumes`: the audit of each start and stop records the size of the volumes it mounts. */
  volumesDir?: string;
}

/** What gives a starting instance its SVID (see InstanceIdentity). */
export interface IdentityIssuer {
  issue(subject: { env: string; service: string; release: string; instance: string }): Promise<{
    files: SvidFiles;
    /** Where the identity hop is, and the instance's SPIFFE ID. */
    vars: Record<string, string>;
    event: AuditEvent;
  }>;
}

export class InstanceManager {
  private readonly starting = new Set<string>();
  private identity: IdentityIssuer | undefined;

  constructor(private readonly deps: InstanceManagerDeps) {}

  /** From now on every instance starts with an SVID from `issuer` (the spec sets \`identity:\`). */
  useIdentity(issuer: IdentityIssuer): void {
    this.identity = issuer;
  }

  get driverKind(): string {
    return this.deps.driver.kind;
  }

  /** Starts a new instance of `release`; `replaces` names the failed instance it stands in for. */
  async start(
    release: ReleaseRecord,
    env: string,
    reason: string,
    replaces?: string,
  ): Promise<InstanceRecord> {
    const id = newInstanceId();
    // Its container exists a moment before its record: drift must not take it for an unknown one.
    this.starting.add(id);
    try {
      return await this.startAs(id, release, env, reason, replaces);
    } finally {
      this.starting.delete(id);
    }
  }

  /** Whether `id` is an instance this process is starting (container created, record not yet written). */
  isStarting(id: string): boolean {
    return this.starting.has(id);
  }

  private async startAs(
    id: string,
    release: ReleaseRecord,
    env: string,
    reason: string,
    replaces?: string,
  ): Promise<InstanceRecord> {
    await this.deps.admit?.(release, env);
    const run = release.config.run as RunSpec;
    // The SVID is made while the bundle is prepared, and given at the start: the instance has its
    // identity from its first second, before any traffic.
    const issuing = this.identity?.issue({
      env,
      service: release.service,
      release: release.id,
      instance: id,
    });
    issuing?.catch(() => undefined);
    if (this.deps.offThread) await prepareOffThread({ ...this.deps.offThread, digest: release.imageDigest });
    const bundle = await this.deps.driver.prepare({ digest: release.imageDigest, source: this.deps.images });
    const port = await freeLoopbackPort();
    const { files: secrets, env: secretEnv } = (await this.deps.secrets?.(release)) ?? { files: {}, env: {} };
    const files = run.files ? await this.deps.configFiles?.(release) : undefined;
    const expected = await recordIdentity({
      imageDigest: release.imageDigest,
      bundle,
      secrets,
      ...(run.files ? { configFiles: run.files } : {}),
    });
    const svid = await issuing;
    const handle = await this.deps.driver.start({
      id,
      releaseId: release.id,
      service: release.service,
      env,
      bundle,
      run,
      port,
      ...(run.env || svid ? { vars: { ...run.env, ...svid?.vars } } : {}),
      secrets,
      secretEnv,
      ...(files ? { files } : {}),
      ...(svid ? { svid: svid.files } : {}),
    });
    const identity = await addRuntimeConfig(expected, bundle, handle.configFile);
    const volumes = await this.volumeSizes(run, env);
    const now = new Date().toISOString();
    const record: InstanceRecord = {
      id,
      releaseId: release.id,
      service: release.service,
      env,
      driver: this.deps.driver.kind,
      state: 'starting',
      endpoint: handle.endpoint,
      handle: handle as unknown as Record<string, unknown>,
      identity,
      reason,
      createdAt: now,
      updatedAt: now,
    };
    this.deps.store.transaction((tx) => {
      tx.putInstance(record);
      tx.appendEvent({
        kind: 'instance.started',
        env,
        service: release.service,
        subject: id,
        detail: { release: release.id, reason, endpoint: handle.endpoint, ...(replaces ? { replaces } : {}) },
      });
      this.deps.audit.record({
        actor: CONTROL_PLANE_ACTOR,
        action: replaces ? 'instance.replace' : 'instance.start',
        subject: {
          service: release.service,
          env,
          release: release.id,
          instance: id,
          image: release.imageDigest,
        },
        reason,
        detail: {
          driver: this.deps.driver.kind,
          endpoint: handle.endpoint,
          filesDigest: bundle.filesDigest,
          ...(typeof identity.bundleRoot === 'string' ? { bundleRoot: identity.bundleRoot } : {}),
          ...(runtimeConfigDigest(identity) ? { runtimeConfig: runtimeConfigDigest(identity) } : {}),
          ...(replaces ? { replaces } : {}),
          ...(volumes.length > 0 ? { volumes } : {}),
        },
      });
      if (svid) this.deps.audit.record({ ...svid.event, actor: CONTROL_PLANE_ACTOR });
    });
    return record;
  }

  /** Each volume `run` mounts in `env`, with its size now (for the audit of an attach or detach). */
  private async volumeSizes(run: RunSpec | undefined, env: string) {
    const root = this.deps.volumesDir;
    if (!root) return [];
    return Promise.all(
      (run?.volumes ?? []).map(async ({ name, path }) => ({
        name,
        path,
        sizeBytes: await folderSize(volumeDir(root, env, name)),
      })),
    );
  }

  /** Moves an instance to a new state, recording why (`detail`: added to its audit entry). */
  mark(
    instance: InstanceRecord,
    state: InstanceState,
    reason: string,
    detail?: Record<string, unknown>,
  ): InstanceRecord {
    const now = new Date().toISOString();
    const next: InstanceRecord = {
      ...instance,
      state,
      reason,
      updatedAt: now,
      ...(state === 'stopped' || state === 'failed' ? { stoppedAt: now } : {}),
    };
    this.deps.store.transaction((tx) => {
      tx.putInstance(next);
      tx.appendEvent({
        kind: `instance.${state}`,
        env: instance.env,
        service: instance.service,
        subject: instance.id,
        detail: { reason },
      });
      if (state === 'failed' || state === 'stopped' || state === 'quarantined') {
        this.deps.audit.record({
          actor: CONTROL_PLANE_ACTOR,
          action: state === 'stopped' ? 'instance.stop' : `instance.${state}`,
          subject: {
            service: instance.service,
            env: instance.env,
            release: instance.releaseId,
            instance: instance.id,
          },
          reason,
          ...(detail ? { detail } : {}),
        });
      }
    });
    return next;
  }

  /** Stops the instance's process and records it as `stopped` (or `failed`, for a replaced one). */
  async stop(
    instance: InstanceRecord,
    graceMs: number,
    reason: string,
    final: 'stopped' | 'failed' = 'stopped',
  ): Promise<void> {
    await this.deps.driver.stop(instance.handle as unknown as InstanceHandle, graceMs);
    const run = this.deps.store.getRelease(instance.releaseId)?.config.run as RunSpec | undefined;
    const volumes = await this.volumeSizes(run, instance.env).catch(() => []);
    this.mark(instance, final, reason, volumes.length > 0 ? { volumes } : undefined);
  }

  /** The last lines the instance wrote to its log (stdout and stderr). */
  lastOutput(instance: InstanceRecord, lines = 2): Promise<string[]> {
    return lastOutput(this.deps.driver.logs(instance.handle as unknown as InstanceHandle), lines);
  }

  async isRunning(instance: InstanceRecord): Promise<boolean> {
    const observed = await this.deps.driver.inspect(instance.handle as unknown as InstanceHandle);
    return observed.status === 'running';
  }

  /**
   * Stops a running container no live record accounts for (drift `unknown`, enforce mode) and
   * records it. Leaves alone one that started less than `minAgeMs` ago (an instance being started
   * gets its record a moment after its container) or that a live record now names.
   */
  async stopUnknown(id: string, minAgeMs: number, reason: string): Promise<'stopped' | 'too-young' | 'gone'> {
    const handle = (await this.deps.driver.list()).find((h) => h.id === id);
    if (!handle) return 'gone';
    const record = this.deps.store.getInstance(id);
    if (record && record.state !== 'stopped' && record.state !== 'failed') return 'gone';
    if (this.starting.has(id)) return 'too-young';
    if (Date.now() - Date.parse(handle.startedAt) < minAgeMs) return 'too-young';
    await this.deps.driver.stop(handle, 2000);
    this.deps.store.transaction(() =>
      this.deps.audit.record({
        actor: CONTROL_PLANE_ACTOR,
        action: 'drift.stop_unknown',
        subject: {
          instance: id,
          ...(handle.service ? { service: handle.service } : {}),
          ...(handle.env ? { env: handle.env } : {}),
        },
        reason,
        detail: { driver: this.deps.driver.kind, startedAt: handle.startedAt },
      }),
    );
    return 'stopped';
  }

  /** Instances the driver knows that the state store does not consider live: stop them. */
  async stopOrphans(live: Set<string>): Promise<string[]> {
    const stopped: string[] = [];
    for (const handle of await this.deps.driver.list()) {
      if (live.has(handle.id)) continue;
      await this.deps.driver.stop(handle, 2000);
      stopped.push(handle.id);
    }
    return stopped;
  }
}

/** The digest of the runtime config an identity recorded, if any (never the per-field hashes). */
function runtimeConfigDigest(identity: Record<string, unknown>): string | undefined {
  const config = identity.runtimeConfig as { digest?: unknown } | undefined;
  return typeof config?.digest === 'string' ? config.digest : undefined;
}
