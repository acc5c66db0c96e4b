/**
 * What `cairn plan` reads of a cluster: which of cairn's objects exist, and whether a door object
 * (namespace, VAPs, Bindings, NetworkPolicies) would change, by a server-side apply with
 * `dryRun: All` compared with the live object. Read-only: GETs, lists and dry runs.
 */
import { diffValues } from '../rollout/index.js';
import { ADMITTED_CONFIGMAP, NAMESPACE_LABEL } from './admission.js';
import type { KubeObject } from './client.js';
import type { Cluster } from './cluster.js';
import { CONFIG_FILE_LABEL } from './config-files.js';
import { LABEL, type Manifest } from './manifests.js';
import type { LiveObjects } from './plan.js';

const VAP_API = 'admissionregistration.k8s.io/v1';
const name = (o: { metadata?: Record<string, unknown> }) => String(o.metadata?.name);

/** The live state of what cairn would write in `env`; `door` are the door objects cairn would apply. */
export async function readLiveObjects(
  cluster: Cluster,
  env: string,
  door: Manifest[],
  /** Objects only looked for (the in-cluster gateway's: its image is known at deploy time only). */
  present: Manifest[] = [],
): Promise<LiveObjects> {
  const existing = new Set<string>();
  const differs = new Map<string, string>();
  const policyObjects: string[] = [];
  for (const kind of ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']) {
    for (const o of await cluster.list(VAP_API, kind, `${NAMESPACE_LABEL}=${cluster.namespace}`, true)) {
      existing.add(`${kind}/${name(o)}`);
      if (!name(o).startsWith('cairn-gates.')) policyObjects.push(`${kind}/${name(o)}`);
    }
  }
  const ns = door.find((d) => d.kind === 'Namespace');
  const nsLive = ns ? await cluster.read(ns) : undefined;
  let admitted = new Set<string>();
  if (nsLive) {
    existing.add(`Namespace/${cluster.namespace}`);
    for (const d of await cluster.list('apps/v1', 'Deployment', `${LABEL.env}=${env}`))
      existing.add(`Deployment/${name(d)}`);
    for (const s of await cluster.list('v1', 'Secret', `${LABEL.managedBy}=cairn`))
      existing.add(`Secret/${name(s)}`);
    for (const c of await cluster.list('v1', 'ConfigMap', CONFIG_FILE_LABEL))
      existing.add(`ConfigMap/${name(c)}`);
    const cm = await cluster.read({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: ADMITTED_CONFIGMAP, namespace: cluster.namespace },
    });
    if (cm) {
      existing.add(`ConfigMap/${ADMITTED_CONFIGMAP}`);
      admitted = new Set(Object.keys((cm.data as Record<string, string> | undefined) ?? {}));
    }
  }
  for (const want of door) {
    const id = `${want.kind}/${String(want.metadata.name)}`;
    const live =
      want.kind === 'Namespace'
        ? nsLive
        : nsLive || isClusterScoped(want)
          ? await cluster.read(want)
          : undefined;
    if (!live) continue;
    existing.add(id);
    const diff = changedPaths(live, await cluster.dryRunApply(want));
    if (diff.length > 0)
      differs.set(
        id,
        `a dry-run apply changes ${diff.slice(0, 3).join(', ')}${diff.length > 3 ? ', …' : ''}`,
      );
  }
  for (const want of present)
    if (await cluster.read(want)) existing.add(`${want.kind}/${String(want.metadata.name)}`);
  return { existing, differs, admitted, policyObjects };
}

const isClusterScoped = (m: Manifest) => m.metadata.namespace === undefined;

/** The paths a dry-run apply would change, ignoring what the apiserver writes itself. */
export function changedPaths(live: KubeObject, after: KubeObject): string[] {
  return diffValues(comparable(live), comparable(after)).map((c) => c.path);
}

function comparable(o: KubeObject): Record<string, unknown> {
  const { status: _status, ...rest } = o;
  const meta = { ...(o.metadata ?? {}) };
  for (const k of ['managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid'])
    delete meta[k];
  return { ...rest, metadata: meta };
}
