/**
 * `cairn doctor` for a Kubernetes environment: the apiserver answers (and its version), the
 * credential may do everything cairn does there (one SelfSubjectAccessReview per verb and
 * resource), and ValidatingAdmissionPolicy is served (the gates at the cluster's door need it).
 */
import { Cluster, type ClusterConfig } from './cluster.js';

export interface ClusterCheck {
  ok: boolean;
  check: string;
  detail: string;
}

/** What cairn does in a cluster, as `[group, resource, verbs, cluster-scoped]` (docs/kubernetes.md, RBAC). */
export const NEEDED: ReadonlyArray<readonly [string, string, string, boolean]> = [
  ['', 'namespaces', 'get create patch', true],
  ['', 'nodes', 'list', true],
  ['apps', 'deployments', 'get list watch create patch update delete', false],
  ['', 'secrets', 'get list create patch delete', false],
  ['', 'configmaps', 'get list watch create patch update delete', false],
  ['', 'pods', 'get list watch delete', false],
  ['', 'pods/log', 'get', false],
  ['', 'events', 'list watch', false],
  ['networking.k8s.io', 'networkpolicies', 'get list watch create patch update', false],
  [
    'admissionregistration.k8s.io',
    'validatingadmissionpolicies',
    'get list watch create patch update delete',
    true,
  ],
  [
    'admissionregistration.k8s.io',
    'validatingadmissionpolicybindings',
    'get list watch create patch update delete',
    true,
  ],
];

/**
 * What cairn does more when the environment's gateway runs in the cluster, as `[group, resource,
 * verbs, in the gateway namespace]` (else in the environment's namespace). Nothing `NEEDED` already
 * checks: the gateway's Role grants `get`, `list`, `watch` on ConfigMaps (a Role can only grant
 * what its maker holds), which `NEEDED` covers in the environment's namespace.
 */
export const NEEDED_FOR_GATEWAY: ReadonlyArray<readonly [string, string, string, boolean]> = [
  ['apps', 'daemonsets', 'get list watch create patch update', true],
  ['', 'serviceaccounts', 'get list watch create patch update', true],
  ['', 'pods', 'list watch', true],
  ['', 'pods/proxy', 'get', true],
  ['rbac.authorization.k8s.io', 'roles', 'get list watch create patch update', false],
  ['rbac.authorization.k8s.io', 'rolebindings', 'get list watch create patch update', false],
];

/** Runs every check; a check that cannot run is a failed check saying why, never a throw. */
export async function checkCluster(config: ClusterConfig): Promise<ClusterCheck[]> {
  let cluster: Cluster;
  let version: string;
  try {
    cluster = await Cluster.open(config);
    version = await cluster.version();
  } catch (error) {
    return [{ ok: false, check: 'apiserver', detail: (error as Error).message }];
  }
  const checks: ClusterCheck[] = [
    { ok: true, check: 'apiserver', detail: `${cluster.server} answers, ${version}` },
  ];
  const denied: string[] = [];
  for (const [group, resource, verbs, clusterScoped] of NEEDED) {
    for (const verb of verbs.split(' ')) {
      if (!(await allowed(cluster, group, resource, verb, clusterScoped ? undefined : cluster.namespace)))
        denied.push(`${verb} ${group ? `${group}/` : ''}${resource}`);
    }
  }
  const gwns = config.target.gatewayNamespace;
  for (const [group, resource, verbs, inGateway] of gwns ? NEEDED_FOR_GATEWAY : []) {
    const ns = inGateway ? gwns! : cluster.namespace;
    for (const verb of verbs.split(' ')) {
      if (!(await allowed(cluster, group, resource, verb, ns)))
        denied.push(`${verb} ${group ? `${group}/` : ''}${resource}${inGateway ? ` (in ${ns})` : ''}`);
    }
  }
  checks.push(
    denied.length === 0
      ? {
          ok: true,
          check: 'permissions',
          detail: `every verb cairn needs in namespace ${cluster.namespace}${gwns ? ` and gateway namespace ${gwns}` : ''}`,
        }
      : {
          ok: false,
          check: 'permissions',
          detail: `not allowed: ${denied.join(', ')} (docs/kubernetes.md lists the RBAC)`,
        },
  );
  checks.push(await admissionPolicies(cluster));
  return checks;
}

/** `namespace` undefined: a cluster-scoped resource. */
function allowed(
  cluster: Cluster,
  group: string,
  resource: string,
  verb: string,
  namespace: string | undefined,
) {
  const [plural, subresource] = resource.split('/');
  return cluster.allowed({
    group,
    resource: plural!,
    verb,
    ...(subresource ? { subresource } : {}),
    ...(namespace ? { namespace } : {}),
  });
}

async function admissionPolicies(cluster: Cluster): Promise<ClusterCheck> {
  const check = 'admission policies';
  try {
    await cluster.list('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', undefined, true);
    return {
      ok: true,
      check,
      detail: 'ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) is served',
    };
  } catch (error) {
    return {
      ok: false,
      check,
      detail: `ValidatingAdmissionPolicy is not available (${(error as Error).message}): Kubernetes 1.30 or later has it on by default`,
    };
  }
}
