/**
 * `cairn drift` of a Kubernetes environment's door: the objects cairn keeps there for what serves
 * (the allow-list, the gates' and policies' VAPs and Bindings, each service's NetworkPolicy, each
 * configuration file's ConfigMap), rebuilt from the spec and the state store, judged against the
 * live ones with the watch's own `judgeDoor`, and put back with its `repairDoor`.
 */
import type { ReleaseRecord } from '../state/index.js';
import {
  ADMITTED_CONFIGMAP,
  type AdmissionPolicy,
  gatesManifests,
  NAMESPACE_LABEL,
  policyManifests,
} from './admission.js';
import type { Cluster } from './cluster.js';
import { configFileManifest } from './config-files.js';
import { repairDoor } from './door.js';
import { LABEL, type Manifest } from './manifests.js';
import { hostCidr, type NetworkPaths, releaseNetworkPolicy } from './network-policy.js';
import { type DoorRepair, judgeDoor, type LiveDoorObject, type WorkloadFinding } from './workload-drift.js';

const VAP_API = 'admissionregistration.k8s.io/v1';
const ALLOW_LIST = `ConfigMap/${ADMITTED_CONFIGMAP}`;

export interface DoorDriftInput {
  env: string;
  /** The releases with replicas in the environment now. */
  serving: ReleaseRecord[];
  /** The environment's cairn policies that match `admission`. */
  policies: AdmissionPolicy[];
  neighbours: (service: string) => Pick<NetworkPaths, 'allow' | 'callers'>;
  /** The pinned configuration files of a release (path → content); a failure leaves its files unjudged. */
  configFiles: (release: ReleaseRecord) => Promise<Record<string, Buffer>>;
  /** The in-cluster gateway's namespace, which the gates' Binding covers too. */
  gatewayNamespace?: string;
  /** Put back what drifted, as the watch of `cairn up` does. */
  repair: boolean;
}

/** A door finding, and what `cairn drift` did about it. */
export interface DoorFinding extends WorkloadFinding {
  /** Put back now, in this many ms. */
  repairMs?: number;
  /** Why it was not put back now (left to `cairn up`). */
  left?: string;
}

/** Every door object of the environment that differs from what cairn keeps there, repaired when asked. */
export async function checkDoor(cluster: Cluster, input: DoorDriftInput): Promise<DoorFinding[]> {
  if (input.serving.length === 0) return [];
  const expected = await expectedDoor(cluster, input);
  const live = await liveDoor(cluster, input.env);
  const found: DoorFinding[] = [];
  for (const key of [ALLOW_LIST, ...expected.keys()]) {
    const verdict = judgeDoor(key, live.get(key), expected.get(key), ADMITTED_CONFIGMAP);
    if (verdict === undefined || verdict === 'in-sync') continue;
    const { finding, repair } = verdict;
    if (!input.repair) {
      found.push(finding);
    } else if (repair.kind === 'allow-list' && repair.foreign.length === 0) {
      // Which policies held for each release is the gates' verdict, which only `cairn up` holds.
      found.push({ ...finding, left: 'cairn up (or the next deploy) writes it again' });
    } else {
      found.push({ ...finding, ...(await putBack(cluster, repair)) });
    }
  }
  return found;
}

/**
 * One repair, timed. A failure (a permission missing, the apiserver gone) is said on its finding,
 * not thrown: the repairs already made are still reported and audited, and the rest still tried.
 */
async function putBack(
  cluster: Cluster,
  repair: DoorRepair,
): Promise<Pick<DoorFinding, 'repairMs' | 'left'>> {
  const started = Date.now();
  try {
    await repairDoor(cluster, repair, async () => {});
    return { repairMs: Date.now() - started };
  } catch (error) {
    return { left: `not put back (${(error as Error).message}); cairn up puts it back from its watch` };
  }
}

/** What cairn's converge keeps at the door for the releases that serve, by `Kind/name`. */
async function expectedDoor(cluster: Cluster, input: DoorDriftInput): Promise<Map<string, Manifest>> {
  const ns = cluster.namespace;
  const objects = [
    ...gatesManifests(ns, input.env, input.gatewayNamespace),
    ...input.policies.flatMap((p) => policyManifests(ns, input.env, p)),
  ];
  const at = { env: input.env, namespace: ns, nodeCidrs: (await cluster.nodeAddresses()).map(hostCidr) };
  const services = new Set<string>();
  for (const release of input.serving) {
    if (!services.has(release.service))
      objects.push(releaseNetworkPolicy(release, at, input.neighbours(release.service)));
    services.add(release.service);
    const files = (release.config.run as { files?: Record<string, string> }).files ?? {};
    if (Object.keys(files).length === 0) continue;
    const content = await input.configFiles(release).catch(() => undefined);
    if (!content) continue;
    for (const [path, digest] of Object.entries(files))
      objects.push(configFileManifest(ns, { path, digest, content: content[path] ?? Buffer.alloc(0) }));
  }
  return new Map(objects.map((o) => [`${o.kind}/${String(o.metadata.name)}`, o]));
}

/** The door objects in the cluster (the watch's selectors), by `Kind/name`. */
async function liveDoor(cluster: Cluster, env: string): Promise<Map<string, LiveDoorObject>> {
  const ofNamespace = `${NAMESPACE_LABEL}=${cluster.namespace}`;
  const lists: Array<[string, () => Promise<Array<{ metadata?: Record<string, unknown> }>>]> = [
    ['ConfigMap', () => cluster.list('v1', 'ConfigMap', `${LABEL.managedBy}=cairn`)],
    ['NetworkPolicy', () => cluster.list('networking.k8s.io/v1', 'NetworkPolicy', `${LABEL.env}=${env}`)],
    [
      'ValidatingAdmissionPolicy',
      () => cluster.list(VAP_API, 'ValidatingAdmissionPolicy', ofNamespace, true),
    ],
    [
      'ValidatingAdmissionPolicyBinding',
      () => cluster.list(VAP_API, 'ValidatingAdmissionPolicyBinding', ofNamespace, true),
    ],
  ];
  const out = new Map<string, LiveDoorObject>();
  for (const [kind, list] of lists)
    for (const o of await list()) out.set(`${kind}/${String(o.metadata?.name)}`, o as LiveDoorObject);
  return out;
}
