/**
 * What a cairn-owned workload should be vs what the cluster holds: a Deployment whose replicas,
 * image or any field was changed by someone else (`kubectl scale`, `set image`, `edit`, `patch`),
 * a Deployment of a release that does not serve, a pod with cairn's labels that no ReplicaSet
 * owns. Pure: takes the live objects (with their managedFields) and the state's `serving`.
 */
import { LABEL } from './manifests.js';

/** What cairn reads of a live Deployment. */
export interface LiveDeployment {
  metadata?: {
    name?: string;
    labels?: Record<string, string>;
    managedFields?: Array<{ manager?: string; operation?: string; subresource?: string; fieldsV1?: unknown }>;
  };
  spec?: { replicas?: number; template?: { spec?: { containers?: Array<{ image?: string }> } } };
}

/** What cairn reads of a live pod. */
export interface LivePod {
  metadata?: { name?: string; labels?: Record<string, string>; ownerReferences?: Array<{ kind?: string }> };
}

export interface WorkloadFinding {
  /** `Deployment/<name>` or `Pod/<name>`. */
  object: string;
  service: string;
  release: string;
  /** What differs, one line each: `spec.replicas: 2 → 5 (by kubectl)`. */
  reasons: string[];
  /** `reapply`: cairn applies its own object again; `delete`: the object should not exist. */
  repair: 'reapply' | 'delete';
}

/** Field managers that may write to a cairn Deployment: cairn, and the controllers' bookkeeping. */
const OWN_MANAGER = 'cairn';
/** The deployment controller writes this annotation on every Deployment: not drift. */
const CONTROLLER_ANNOTATION = 'f:deployment.kubernetes.io/revision';

/** Judges one Deployment against the release it runs and the replicas `serving` asks of it. */
export function judgeDeployment(
  live: LiveDeployment,
  expected: { replicas: number; imageDigest: string } | undefined,
): WorkloadFinding | undefined {
  const labels = live.metadata?.labels ?? {};
  const base = {
    object: `Deployment/${live.metadata?.name ?? '?'}`,
    service: labels[LABEL.service] ?? '',
    release: labels[LABEL.release] ?? '',
  };
  if (!expected || expected.replicas === 0)
    return { ...base, reasons: ['a Deployment of a release that does not serve here'], repair: 'delete' };
  const reasons: string[] = [];
  const foreign = foreignManagers(live);
  const by = foreign.length > 0 ? ` (by ${foreign.join(', ')})` : '';
  const replicas = live.spec?.replicas ?? 1;
  if (replicas !== expected.replicas) reasons.push(`spec.replicas: ${expected.replicas} → ${replicas}${by}`);
  for (const c of live.spec?.template?.spec?.containers ?? []) {
    if (!c.image?.endsWith(`@${expected.imageDigest}`))
      reasons.push(`image: …@${expected.imageDigest} → ${c.image ?? '(none)'}${by}`);
  }
  if (reasons.length === 0 && foreign.length > 0)
    reasons.push(`fields changed by ${foreign.join(', ')} (kubectl edit/patch?)`);
  return reasons.length > 0 ? { ...base, reasons, repair: 'reapply' } : undefined;
}

/** A pod with cairn's labels that no ReplicaSet owns was not made by cairn. */
export function judgePod(pod: LivePod): WorkloadFinding | undefined {
  const owned = (pod.metadata?.ownerReferences ?? []).some((o) => o.kind === 'ReplicaSet');
  if (owned) return undefined;
  const labels = pod.metadata?.labels ?? {};
  return {
    object: `Pod/${pod.metadata?.name ?? '?'}`,
    service: labels[LABEL.service] ?? '',
    release: labels[LABEL.release] ?? '',
    reasons: ["a pod with cairn's labels that no cairn Deployment made"],
    repair: 'delete',
  };
}

/** Judges every Deployment of the environment against `serving` (release → replicas, per service). */
export function judgeWorkloads(
  deployments: LiveDeployment[],
  pods: LivePod[],
  serving: Map<string, { replicas: number; imageDigest: string }>,
): WorkloadFinding[] {
  const found: WorkloadFinding[] = [];
  for (const d of deployments) {
    const f = judgeDeployment(d, serving.get(d.metadata?.labels?.[LABEL.release] ?? ''));
    if (f) found.push(f);
  }
  for (const p of pods) {
    const f = judgePod(p);
    if (f) found.push(f);
  }
  return found;
}

type ManagedFields = NonNullable<NonNullable<LiveDeployment['metadata']>['managedFields']>;

/** Managers other than cairn's that own a field of a cairn object (status and the revision note aside). */
export function foreignManagers(live: { metadata?: { managedFields?: ManagedFields } }): string[] {
  const names = new Set<string>();
  for (const m of live.metadata?.managedFields ?? []) {
    if (m.manager === OWN_MANAGER || m.subresource === 'status') continue;
    if (m.manager?.startsWith(`${OWN_MANAGER}-`)) continue;
    if (onlyRevisionNote(m.fieldsV1)) continue;
    names.add(m.subresource ? `${m.manager} (${m.subresource})` : (m.manager ?? '?'));
  }
  return [...names].sort();
}

function onlyRevisionNote(fields: unknown): boolean {
  const json = JSON.stringify(fields ?? {});
  return json.includes(CONTROLLER_ANNOTATION) && !json.includes('"f:spec"');
}

/** Keys of a ConfigMap's `data` that a manager other than cairn's owns (added or changed by hand). */
export function foreignDataKeys(live: { metadata?: { managedFields?: ManagedFields } }): string[] {
  const keys = new Set<string>();
  for (const m of live.metadata?.managedFields ?? []) {
    if (m.manager === OWN_MANAGER || m.manager?.startsWith(`${OWN_MANAGER}-`)) continue;
    const data = (m.fieldsV1 as { 'f:data'?: Record<string, unknown> } | undefined)?.['f:data'] ?? {};
    for (const k of Object.keys(data)) if (k.startsWith('f:')) keys.add(k.slice(2));
  }
  return [...keys].sort();
}

/** How a door object is put back: applied again (deleted), replaced then applied (changed), or the allow-list's keys. */
export type DoorRepair =
  | { kind: 'apply'; object: DoorManifest }
  | { kind: 'restore'; object: DoorManifest }
  | { kind: 'allow-list'; foreign: string[] };

/** A door object as cairn applies it (what the live one is held to). */
export type DoorManifest = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<
  string,
  unknown
>;

/** A live door object as far as cairn reads it. */
export type LiveDoorObject = { metadata?: { managedFields?: ManagedFields } };

/**
 * Judges one object of the door — the allow-list (`ConfigMap/cairn-admitted`), a VAP or Binding, a
 * NetworkPolicy, a configuration file's ConfigMap — by `Kind/name`: `live` undefined means it is
 * gone. Returns `in-sync`, the finding with its repair, or undefined when it is not cairn's to
 * judge (`expected` unknown). The watch of `cairn up` and `cairn drift` both judge with this.
 */
export function judgeDoor(
  key: string,
  live: LiveDoorObject | undefined,
  expected: DoorManifest | undefined,
  allowList: string,
): { finding: WorkloadFinding; repair: DoorRepair } | 'in-sync' | undefined {
  const base = { object: key, service: '', release: '', repair: 'reapply' as const };
  if (key === `ConfigMap/${allowList}`) {
    const foreign = live ? foreignDataKeys(live) : [];
    if (live && foreign.length === 0) return 'in-sync';
    const reasons = live
      ? foreign.map((k) => `${k}: written by ${foreignManagers(live).join(', ')}`)
      : ['the allow-list was deleted'];
    return { finding: { ...base, reasons }, repair: { kind: 'allow-list', foreign } };
  }
  if (!expected) return undefined;
  const by = live ? foreignManagers(live) : [];
  if (live && by.length === 0) return 'in-sync';
  const reasons = [live ? `fields changed by ${by.join(', ')}` : 'deleted'];
  return {
    finding: { ...base, reasons },
    repair: { kind: live ? 'restore' : 'apply', object: expected },
  };
}
