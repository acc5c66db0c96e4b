/**
 * `cairn plan` of a Kubernetes environment: the cluster objects a deploy would create, re-apply or
 * delete, per service, from the pure manifests and, when the cluster answered, the live objects.
 * A running release's Deployment is never changed in place: a new release is a new Deployment,
 * the previous one is deleted after the scale-down delay. Pure: no client, no I/O.
 */
import { admittedKey, gatesPolicyName, policyObjectName } from './admission.js';
import { configFileName } from './config-files.js';
import { GATEWAY_NAME } from './gateway-manifests.js';
import { deploymentName, secretName } from './manifests.js';
import { networkPolicyName } from './network-policy.js';

/**
 * `create` (+), `replace` (-/+: a door object cairn writes again whole), `delete` (-), `delete-later`
 * (- once the new release serves and the scale-down delay is over), `unchanged`.
 */
export type ObjectAction = 'create' | 'replace' | 'delete' | 'delete-later' | 'unchanged';

export interface PlannedObject {
  action: ObjectAction;
  kind: string;
  name: string;
  /** The service it belongs to (none for the namespace and the gates). */
  service?: string;
  note?: string;
}

/** A pinned secret version, as it names its Secret (never a value). */
export type SecretVersion = { name: string; version: string; digest: string };

export interface ServicePlanInput {
  service: string;
  /** The release a deploy would make now; undefined when it is known only after `cairn build`. */
  desired?: {
    releaseId: string;
    imageDigest: string;
    secrets: SecretVersion[];
    files?: Record<string, string>;
  };
  /** Whether the service's plan item replaces or creates its release (a deploy is due). */
  changed: boolean;
  /** Releases with replicas in the environment now, with the secret versions and files (path → digest) each pins. */
  serving: Array<{ releaseId: string; secrets: SecretVersion[]; files?: Record<string, string> }>;
  scaleDownDelayMs: number;
}

/** What the cluster holds now, by `Kind/name`; `differs` holds door objects a dry-run apply would change. */
export interface LiveObjects {
  existing: Set<string>;
  differs: Map<string, string>;
  /** The keys of the allow-list ConfigMap (`sha256.<hex>`). */
  admitted: Set<string>;
  /** cairn's policy VAPs for this namespace (`ValidatingAdmissionPolicy/name`, Bindings too). */
  policyObjects: string[];
}

export interface ClusterPlanInput {
  env: string;
  namespace: string;
  /** Where the environment's gateway runs in the cluster (`kubernetes.gatewayNamespace`), if it does. */
  gatewayNamespace?: string;
  /** The environment's cairn policies that match `admission` (their names). */
  policies: string[];
  services: ServicePlanInput[];
  /** Undefined: the cluster did not answer (`unreachable` says why). */
  live?: LiveObjects;
  unreachable?: string;
}

export interface ClusterPlan {
  env: string;
  namespace: string;
  gatewayNamespace?: string;
  reachable: boolean;
  unreachable?: string;
  objects: PlannedObject[];
  summary: Record<ObjectAction, number>;
}

const VAP = 'ValidatingAdmissionPolicy';
/** The in-cluster gateway's objects besides its namespace, all named `cairn-gateway`. */
const GATEWAY_KINDS = ['ServiceAccount', 'Role', 'RoleBinding', 'DaemonSet', 'ConfigMap'] as const;
const GATEWAY_NOTES: Record<(typeof GATEWAY_KINDS)[number], string> = {
  ServiceAccount: "the gateway pods' identity",
  Role: 'reads the ConfigMap cairn-gateway, nothing else',
  RoleBinding: 'the Role, to the ServiceAccount',
  DaemonSet: 'one hardened host-network gateway pod per node, at gateway.listen',
  ConfigMap: 'what the gateway pods serve (routes, weights, endpoints), written at every change',
};
const BINDING = 'ValidatingAdmissionPolicyBinding';
const key = (kind: string, name: string) => `${kind}/${name}`;

export function planClusterObjects(input: ClusterPlanInput): ClusterPlan {
  const objects: PlannedObject[] = [];
  const nothingServes = input.services.every((s) => s.serving.length === 0);
  const door = (kind: string, name: string, service?: string, note?: string): void => {
    objects.push({
      ...doorAction(input, nothingServes, kind, name, note),
      kind,
      name,
      ...(service ? { service } : {}),
    });
  };
  door('Namespace', input.namespace, undefined, 'Pod Security restricted, enforced');
  door(
    VAP,
    gatesPolicyName(input.namespace),
    undefined,
    'refuses pods whose image is not an admitted digest',
  );
  door(BINDING, gatesPolicyName(input.namespace));
  const wanted = new Set<string>();
  for (const p of input.policies) {
    const name = policyObjectName(input.namespace, p);
    door(VAP, name, undefined, `cairn policy ${p}`);
    door(BINDING, name);
    wanted.add(key(VAP, name)).add(key(BINDING, name));
  }
  wanted.add(key(VAP, gatesPolicyName(input.namespace))).add(key(BINDING, gatesPolicyName(input.namespace)));
  for (const stale of input.live?.policyObjects.filter((o) => !wanted.has(o)) ?? []) {
    const [kind, name] = stale.split('/') as [string, string];
    objects.push({ action: 'delete', kind, name, note: 'its policy is no longer in the environment' });
  }
  if (input.gatewayNamespace) {
    door(
      'Namespace',
      input.gatewayNamespace,
      undefined,
      "Pod Security privileged: the gateway pods use the node's network",
    );
    for (const kind of GATEWAY_KINDS) door(kind, GATEWAY_NAME, undefined, GATEWAY_NOTES[kind]);
  }
  for (const s of input.services) objects.push(...serviceObjects(input, nothingServes, s));
  const summary = { create: 0, replace: 0, delete: 0, 'delete-later': 0, unchanged: 0 };
  for (const o of objects) summary[o.action] += 1;
  return {
    env: input.env,
    namespace: input.namespace,
    ...(input.gatewayNamespace ? { gatewayNamespace: input.gatewayNamespace } : {}),
    reachable: input.live !== undefined,
    ...(input.unreachable ? { unreachable: input.unreachable } : {}),
    objects,
    summary,
  };
}

/** A door object: created when missing, re-applied when a dry-run apply would change it. */
function doorAction(
  input: ClusterPlanInput,
  nothingServes: boolean,
  kind: string,
  name: string,
  note?: string,
): Pick<PlannedObject, 'action' | 'note'> {
  const live = input.live;
  const withNote = (action: ObjectAction, extra?: string) => {
    const text = [note, extra].filter(Boolean).join('; ');
    return { action, ...(text ? { note: text } : {}) };
  };
  if (!live) return nothingServes ? withNote('create') : withNote('unchanged', 'not checked');
  if (!live.existing.has(key(kind, name))) return withNote('create');
  const diff = live.differs.get(key(kind, name));
  return diff ? withNote('replace', diff) : withNote('unchanged');
}

function serviceObjects(
  input: ClusterPlanInput,
  nothingServes: boolean,
  s: ServicePlanInput,
): PlannedObject[] {
  const out: PlannedObject[] = [];
  const service = s.service;
  const live = input.live;
  const np = networkPolicyName(service);
  out.push({
    ...doorAction(input, nothingServes && s.serving.length === 0, 'NetworkPolicy', np),
    kind: 'NetworkPolicy',
    name: np,
    service,
  });
  const servingIds = new Set(s.serving.map((r) => r.releaseId));
  const newRelease = s.desired ? !servingIds.has(s.desired.releaseId) : s.changed;
  out.push(allowList(input, s, newRelease));
  // Nothing to deploy and no image built: the release that serves is the one that stays.
  const stays = s.desired?.releaseId ?? s.serving[0]?.releaseId;
  const dep =
    stays && !newRelease
      ? deploymentName(service, stays)
      : s.desired
        ? deploymentName(service, s.desired.releaseId)
        : `${deploymentName(service, 'rel')}-…`;
  if (newRelease || !stays) {
    const note = s.desired
      ? `the new release ${s.desired.releaseId}`
      : 'the new release (named once its image is built and each secret it pins has a value)';
    out.push({ action: 'create', kind: 'Deployment', name: dep, service, note });
  } else {
    const missing = live && !live.existing.has(key('Deployment', dep));
    out.push({
      action: missing ? 'create' : 'unchanged',
      kind: 'Deployment',
      name: dep,
      service,
      note: missing ? `${stays} serves but its Deployment is missing` : `${stays} serves`,
    });
  }
  const delay = `${Math.round(s.scaleDownDelayMs / 1000)} s`;
  if (newRelease)
    for (const old of s.serving)
      out.push({
        action: 'delete-later',
        kind: 'Deployment',
        name: deploymentName(service, old.releaseId),
        service,
        note: `${old.releaseId}, kept warm ${delay} after the switch (scale-down delay), then deleted`,
      });
  const secrets = (r?: { secrets: SecretVersion[] }) => (r?.secrets ?? []).map(secretName);
  const files = (r?: { files?: Record<string, string> }) => Object.values(r?.files ?? {}).map(configFileName);
  out.push(
    ...pinnedObjects(live, s, newRelease, {
      kind: 'Secret',
      namesOf: secrets,
      note: 'immutable, one per pinned version',
    }),
  );
  out.push(
    ...pinnedObjects(live, s, newRelease, {
      kind: 'ConfigMap',
      namesOf: files,
      note: 'immutable, a configuration file by its digest',
    }),
  );
  return out;
}

/** The allow-list: the new release's digest is added (the ConfigMap is written whole, by replace). */
function allowList(input: ClusterPlanInput, s: ServicePlanInput, newRelease: boolean): PlannedObject {
  const base = { kind: 'ConfigMap', name: 'cairn-admitted', service: s.service };
  const live = input.live;
  if (live && !live.existing.has(key('ConfigMap', 'cairn-admitted')))
    return { ...base, action: 'create', note: 'the digest allow-list' };
  const listed = s.desired && live?.admitted.has(admittedKey(s.desired.imageDigest));
  if (!newRelease && (listed || !live))
    return { ...base, action: 'unchanged', ...(live ? {} : { note: 'not checked' }) };
  if (!live && s.serving.length === 0) return { ...base, action: 'create', note: 'the digest allow-list' };
  const what = s.desired ? `${s.desired.releaseId}'s digest` : "the new release's digest";
  return { ...base, action: 'replace', note: `${what} is added to the allow-list` };
}

/** What a release pins by name (Secrets, configuration-file ConfigMaps): created when missing, deleted once unpinned. */
function pinnedObjects(
  live: LiveObjects | undefined,
  s: ServicePlanInput,
  newRelease: boolean,
  what: { kind: string; namesOf: (r?: ServicePlanInput['serving'][number]) => string[]; note: string },
): PlannedObject[] {
  const out: PlannedObject[] = [];
  const { kind } = what;
  const wanted = new Set(what.namesOf(s.desired));
  const pinnedNow = new Set(s.serving.flatMap((r) => what.namesOf(r)));
  for (const name of wanted) {
    const exists = live ? live.existing.has(key(kind, name)) : pinnedNow.has(name);
    out.push({ action: exists ? 'unchanged' : 'create', kind, name, service: s.service, note: what.note });
  }
  if (!newRelease || !s.desired) return out;
  for (const name of [...pinnedNow].filter((n) => !wanted.has(n)).sort())
    out.push({
      action: 'delete-later',
      kind,
      name,
      service: s.service,
      note: 'deleted once no release pins it (after the scale-down delay)',
    });
  return out;
}

/** Whether applying the plan changes anything in the cluster. */
export const clusterChanges = (plan: ClusterPlan): number =>
  plan.summary.create + plan.summary.replace + plan.summary.delete + plan.summary['delete-later'];
