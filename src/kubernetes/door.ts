/**
 * Keeps a namespace's door as cairn's gates say: the allow-list of admitted digests (each
 * service's keys applied under a field manager of its own, so services of one namespace do not
 * remove each other's), the ValidatingAdmissionPolicies of the gates and of each cairn admission
 * policy (stale ones deleted), and Secrets no Deployment refers to any more, deleted.
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
import { LABEL, type Manifest } from './manifests.js';

const VAP_API = 'admissionregistration.k8s.io/v1';
/** A Secret younger than this is never collected: its Deployment may be being applied right now. */
const SECRET_GRACE_MS = 10_000;

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

/**
 * Deletes cairn's Secrets that no Deployment of the namespace refers to (a secret version no
 * release pins any more), except those `pending` (being applied now) and those just made.
 * Returns the names deleted.
 */
export async function collectSecrets(
  cluster: Cluster,
  pending: Set<string>,
  now = Date.now(),
): Promise<string[]> {
  const used = new Set(pending);
  for (const d of await cluster.list('apps/v1', 'Deployment')) for (const s of secretsOf(d)) used.add(s);
  const deleted: string[] = [];
  for (const s of await cluster.list('v1', 'Secret', `${LABEL.managedBy}=cairn`)) {
    const name = String(s.metadata?.name);
    const born = Date.parse(String(s.metadata?.creationTimestamp ?? ''));
    if (used.has(name) || !(now - born > SECRET_GRACE_MS)) continue;
    await cluster.remove({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: cluster.namespace },
    });
    deleted.push(name);
  }
  return deleted;
}
