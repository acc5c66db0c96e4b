/**
 * Keeps a namespace's door as cairn's gates say: the allow-list of admitted digests (each
 * service's keys applied under a field manager of its own, so services of one namespace do not
 * remove each other's), the ValidatingAdmissionPolicies of the gates and of each cairn admission
 * policy (stale ones deleted), and Secrets and configuration-file ConfigMaps no Deployment refers
 * to any more, deleted.
 */
import {
  type AdmissionPolicy,
  type AdmittedRelease,
  admittedManifest,
  gatesManifests,
  NAMESPACE_LABEL,
  policyManifests,
} from './admission.js';
import type { Cluster } from './cluster.js';
import { CONFIG_FILE_LABEL, configMapsOf } from './config-files.js';
import { LABEL, type Manifest } from './manifests.js';
import type { DoorRepair } from './workload-drift.js';

const VAP_API = 'admissionregistration.k8s.io/v1';
/** A pinned object younger than this is never collected: its Deployment may be being applied right now. */
const PINNED_GRACE_MS = 10_000;

/**
 * The door's objects: the allow-list first (the policies refuse everything without it), then the
 * VAPs; returns the VAPs and Bindings as applied (what the watch holds the live ones to).
 */
export async function keepDoor(
  cluster: Cluster,
  env: string,
  service: string,
  admitted: AdmittedRelease[],
  policies: AdmissionPolicy[],
  gatewayNamespace?: string,
): Promise<Manifest[]> {
  const ns = cluster.namespace;
  const mine = admittedManifest(ns, admitted);
  // Read-modify-write, not apply: the list holds exactly what cairn wrote (no field manager can keep a key alive).
  await cluster.update(mine, (live) => ({
    ...mine,
    data: { ...othersEntries(live, service), ...(mine.data as Record<string, string>) },
  }));
  const vaps = [
    ...gatesManifests(ns, env, gatewayNamespace),
    ...policies.flatMap((p) => policyManifests(ns, env, p)),
  ];
  await cluster.apply(vaps);
  const wanted = new Set(vaps.map((v) => `${v.kind}/${String(v.metadata.name)}`));
  for (const kind of ['ValidatingAdmissionPolicyBinding', 'ValidatingAdmissionPolicy']) {
    for (const live of await cluster.list(VAP_API, kind, `${NAMESPACE_LABEL}=${ns}`, true)) {
      const name = String(live.metadata?.name);
      if (!wanted.has(`${kind}/${name}`))
        await cluster.remove({ apiVersion: VAP_API, kind, metadata: { name } });
    }
  }
  return vaps;
}

/** The allow-list's entries of other services (each value names its service). */
function othersEntries(live: object | undefined, service: string): Record<string, string> {
  const data = ((live as { data?: unknown } | undefined)?.data ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(data).filter(([, v]) => !v.includes(` service=${service} `)));
}

/** Removes from the live allow-list the keys `foreign` names (written by someone other than cairn). */
export async function dropForeignKeys(cluster: Cluster, foreign: string[]): Promise<void> {
  const stub = admittedManifest(cluster.namespace, []);
  await cluster.update(stub, (live) => {
    const data = { ...(((live as { data?: unknown } | undefined)?.data ?? {}) as Record<string, string>) };
    for (const key of foreign) delete data[key];
    return { ...stub, data };
  });
}

/**
 * Puts a door object back as `judgeDoor` said: applied again, replaced then applied, or the
 * allow-list's foreign keys dropped and the list written again (`restoreAllowList`) from what
 * cairn last admitted.
 */
export async function repairDoor(
  cluster: Cluster,
  repair: DoorRepair,
  restoreAllowList: () => Promise<void>,
): Promise<void> {
  if (repair.kind === 'apply') return cluster.apply([repair.object]);
  if (repair.kind === 'restore') return cluster.restore(repair.object);
  if (repair.foreign.length > 0) await dropForeignKeys(cluster, repair.foreign);
  await restoreAllowList();
}

/** The Secrets a Deployment's pods refer to (env and projected files). */
export function secretsOf(deployment: object): string[] {
  const pod = (deployment as { spec?: { template?: { spec?: PodSecrets } } }).spec?.template?.spec;
  const names = new Set<string>();
  for (const c of pod?.containers ?? [])
    for (const e of c.env ?? [])
      if (e.valueFrom?.secretKeyRef?.name) names.add(e.valueFrom.secretKeyRef.name);
  for (const v of pod?.volumes ?? []) {
    if (v.secret?.secretName) names.add(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) if (s.secret?.name) names.add(s.secret.name);
  }
  return [...names];
}

interface PodSecrets {
  containers?: Array<{ env?: Array<{ valueFrom?: { secretKeyRef?: { name?: string } } }> }>;
  volumes?: Array<{
    secret?: { secretName?: string };
    projected?: { sources?: Array<{ secret?: { name?: string } }> };
  }>;
}

/** cairn's objects a release pins, and how to find them: collected once no Deployment refers to them. */
const PINNED = [
  { kind: 'Secret', selector: `${LABEL.managedBy}=cairn`, of: secretsOf },
  { kind: 'ConfigMap', selector: CONFIG_FILE_LABEL, of: configMapsOf },
] as const;

/**
 * Deletes cairn's Secrets and configuration-file ConfigMaps that no Deployment of the namespace
 * refers to (a secret version or a file content no release pins any more), except those `pending`
 * (`Kind/name`, being applied now) and those just made. `forget` is told each one before it is
 * deleted (so the watch does not write it again). Returns them as `Kind/name`.
 */
export async function collectUnpinned(
  cluster: Cluster,
  pending: Set<string>,
  forget: (key: string) => void = () => {},
  now = Date.now(),
): Promise<string[]> {
  const used = new Set(pending);
  const deployments = await cluster.list('apps/v1', 'Deployment');
  for (const { kind, of } of PINNED)
    for (const d of deployments) for (const n of of(d)) used.add(`${kind}/${n}`);
  const deleted: string[] = [];
  for (const { kind, selector } of PINNED) {
    for (const o of await cluster.list('v1', kind, selector)) {
      const key = `${kind}/${String(o.metadata?.name)}`;
      const born = Date.parse(String(o.metadata?.creationTimestamp ?? ''));
      if (used.has(key) || !(now - born > PINNED_GRACE_MS)) continue;
      forget(key);
      const metadata = { name: o.metadata?.name, namespace: cluster.namespace };
      await cluster.remove({ apiVersion: 'v1', kind, metadata });
      deleted.push(key);
    }
  }
  return deleted;
}
