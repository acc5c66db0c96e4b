/**
 * Guards what cairn made in a cluster, from the watches: a Deployment someone changed (`kubectl
 * set image`, `scale`, `edit`) is put back as cairn applied it, a pod with cairn's labels that no
 * cairn Deployment made is deleted, and a pod the apiserver refused under cairn's admission
 * policies (seen in the namespace's events) is recorded. Each finding and repair is audited.
 */
import type { AuditLog } from '../audit/index.js';
import type { SqliteStateStore } from '../state/index.js';
import { ADMITTED_CONFIGMAP, REFUSAL_MARK } from './admission.js';
import type { Cluster } from './cluster.js';
import { repairDoor } from './door.js';
import type { Manifest } from './manifests.js';
import {
  judgeDeployment,
  judgeDoor,
  judgePod,
  type LiveDeployment,
  type LivePod,
  type WorkloadFinding,
} from './workload-drift.js';

const ACTOR = 'cairn-up';
/** The same refusal (object and message) is recorded at most once per this long. */
const REFUSAL_QUIET_MS = 60_000;
/** Clocks of the apiserver and this machine may differ a little. */
const EVENT_SLACK_MS = 2000;
/** A repair that failed is tried again at the next sight of the object, but not sooner than this. */
const REPAIR_RETRY_MS = 1000;

/** An object of the door, as far as cairn reads it. */
export interface DoorObject {
  kind?: string;
  metadata?: LiveDeployment['metadata'];
}

/** A cluster event, as far as cairn reads it. */
export interface ClusterEvent {
  metadata?: { uid?: string };
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  involvedObject?: { kind?: string; name?: string };
}

export interface WorkloadGuardDeps {
  env: string;
  store: SqliteStateStore;
  audit: AuditLog;
  cluster: () => Promise<Cluster>;
  /** The Deployment cairn last applied under this name (undefined: not cairn's to judge yet). */
  applied: (name: string) => Manifest | undefined;
  /** A door object (VAP, Binding, NetworkPolicy) as cairn last applied it, by `Kind/name`. */
  doorObject: (key: string) => Manifest | undefined;
  /** Writes the allow-list and the VAPs again from what cairn last admitted (a deleted one comes back). */
  restoreDoor: () => Promise<void>;
  /**
   * The environment's `drift.mode`: `warn` reports a changed Deployment or a foreign pod (the
   * instances) without repairing it; the door's objects are admission controls and are always put back.
   */
  mode?: 'enforce' | 'warn';
  log?: (line: Record<string, unknown>) => void;
  now?: () => number;
}

/** A finding being repaired or not repaired yet, for `cairn status`/`drift` of the environment. */
export interface OpenFinding extends WorkloadFinding {
  since: string;
}

export class WorkloadGuard {
  private readonly open = new Map<
    string,
    { finding: WorkloadFinding; at: number; repairing: boolean; tried: number; reportOnly: boolean }
  >();
  private readonly refusals = new Map<string, number>();
  private readonly now: () => number;
  /** Events from before this guard began were recorded by an earlier `cairn up` (or never: not ours to judge). */
  private readonly since: number;

  constructor(private readonly deps: WorkloadGuardDeps) {
    this.now = deps.now ?? Date.now;
    this.since = this.now() - EVENT_SLACK_MS;
  }

  /** Findings not repaired yet. */
  findings(): OpenFinding[] {
    return [...this.open.values()].map((o) => ({ ...o.finding, since: new Date(o.at).toISOString() }));
  }

  /** A Deployment of this environment was added or changed. */
  deploymentSeen(d: LiveDeployment): void {
    const name = d.metadata?.name ?? '';
    const applied = this.deps.applied(name);
    if (!applied) return;
    const spec = applied.spec as {
      replicas: number;
      template: { spec: { containers: Array<{ image: string }> } };
    };
    const image = spec.template.spec.containers[0]!.image;
    const finding = judgeDeployment(d, {
      replicas: spec.replicas,
      imageDigest: image.slice(image.indexOf('@') + 1),
    });
    if (!finding) {
      this.settled(`Deployment/${name}`);
      return;
    }
    this.found(finding, () => this.deps.cluster().then((c) => c.restore(applied)), this.reportOnly());
  }

  /** A pod of this environment was added or changed. */
  podSeen(pod: LivePod & { metadata?: { namespace?: string; deletionTimestamp?: unknown } }): void {
    if (pod.metadata?.deletionTimestamp) {
      // A foreign pod only reported (warn) is settled when someone else deletes it.
      const key = `Pod/${pod.metadata.name ?? '?'}`;
      if (this.open.get(key)?.reportOnly) this.settled(key);
      return;
    }
    const finding = judgePod(pod);
    if (!finding) return;
    const object = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod.metadata?.name, namespace: pod.metadata?.namespace },
    };
    this.found(
      finding,
      async () => {
        await (await this.deps.cluster()).remove(object);
        this.settled(finding.object);
      },
      this.reportOnly(),
    );
  }

  /** Instances (Deployments, pods) are only reported under `drift.mode: warn`. */
  private reportOnly(): boolean {
    return this.deps.mode === 'warn';
  }

  /**
   * An object of the door (the allow-list, a VAP or Binding, a NetworkPolicy) changed or was
   * deleted: what someone else wrote is undone, what was deleted is written again.
   */
  doorSeen(o: DoorObject, gone: boolean): void {
    const key = `${o.kind ?? '?'}/${o.metadata?.name ?? '?'}`;
    const verdict = judgeDoor(key, gone ? undefined : o, this.deps.doorObject(key), ADMITTED_CONFIGMAP);
    if (verdict === undefined) return;
    if (verdict === 'in-sync') {
      this.settled(key);
      return;
    }
    this.found(verdict.finding, async () =>
      repairDoor(await this.deps.cluster(), verdict.repair, this.deps.restoreDoor),
    );
  }

  /** An event of the namespace: a pod refused by one of cairn's admission policies is recorded. */
  eventSeen(e: ClusterEvent): void {
    const message = e.message ?? '';
    if (e.reason !== 'FailedCreate' || !message.includes(REFUSAL_MARK)) return;
    if (Date.parse(e.lastTimestamp ?? '') < this.since) return;
    const object = `${e.involvedObject?.kind ?? '?'}/${e.involvedObject?.name ?? '?'}`;
    const key = `${object} ${message}`;
    const last = this.refusals.get(key);
    if (last !== undefined && this.now() - last < REFUSAL_QUIET_MS) return;
    this.refusals.set(key, this.now());
    const policy = /ValidatingAdmissionPolicy '([^']+)'/.exec(message)?.[1] ?? '';
    this.audit(
      'admission.refused_by_cluster',
      { instance: object, env: this.deps.env },
      message.split('\n')[0]!,
      {
        policy,
        count: e.count ?? 1,
      },
    );
  }

  private found(finding: WorkloadFinding, repair: () => Promise<void>, reportOnly = false): void {
    const known = this.open.get(finding.object);
    const same = known && JSON.stringify(known.finding.reasons) === JSON.stringify(finding.reasons);
    if (!same) {
      this.audit(
        'drift.detected',
        this.subject(finding),
        `${finding.reasons.length} difference(s), first ${finding.reasons[0]}`,
        {
          driver: 'kubernetes',
          reasons: finding.reasons,
          remediation: reportOnly ? 'none (drift.mode warn)' : finding.repair,
        },
      );
    }
    const entry = {
      finding,
      at: known?.at ?? this.now(),
      repairing: known?.repairing ?? false,
      tried: known?.tried ?? 0,
      reportOnly,
    };
    this.open.set(finding.object, entry);
    if (reportOnly) return;
    // One repair at a time per object; a failed one is tried again at the next sight, not sooner than a second.
    if (entry.repairing || this.now() - entry.tried < REPAIR_RETRY_MS) return;
    entry.repairing = true;
    entry.tried = this.now();
    repair()
      .catch((error: unknown) =>
        this.deps.log?.({
          level: 'warn',
          msg: 'repairing drift failed',
          object: finding.object,
          error: String(error),
        }),
      )
      .finally(() => {
        entry.repairing = false;
      });
  }

  /**
   * The object is as cairn made it again: a repair that finished, audited with how long it took
   * (under `drift.mode: warn` someone else put it back: audited as such, not as cairn's repair).
   */
  private settled(object: string): void {
    const open = this.open.get(object);
    if (!open) return;
    this.open.delete(object);
    this.audit(
      'drift.repaired',
      this.subject(open.finding),
      open.reportOnly
        ? `${open.finding.repair === 'delete' ? 'gone' : 'back as cairn applied it'} (not by cairn: drift.mode warn)`
        : `${open.finding.repair === 'delete' ? 'deleted' : 're-applied'} by cairn`,
      {
        driver: 'kubernetes',
        repairMs: this.now() - open.at,
        ...(open.reportOnly ? { by: 'someone else' } : {}),
      },
    );
  }

  private subject(f: WorkloadFinding): Record<string, string> {
    return {
      instance: f.object,
      env: this.deps.env,
      ...(f.service ? { service: f.service } : {}),
      ...(f.release ? { release: f.release } : {}),
    };
  }

  private audit(
    action: string,
    subject: Record<string, string>,
    reason: string,
    detail: Record<string, unknown>,
  ): void {
    try {
      this.deps.store.transaction(() =>
        this.deps.audit.record({ actor: ACTOR, action, subject, reason, detail }),
      );
    } catch (error) {
      this.deps.log?.({
        level: 'error',
        msg: 'auditing a cluster finding failed',
        action,
        error: String(error),
      });
    }
  }
}
