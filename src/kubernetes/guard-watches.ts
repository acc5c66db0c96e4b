/**
 * The watches the workload guard judges: the environment's Deployments and pods (drift), the
 * namespace's events (refusals by cairn's admission policies), and the door — the allow-list,
 * cairn's VAPs and Bindings, its NetworkPolicies, the in-cluster gateway's objects — on every
 * change and deletion.
 */
import { NAMESPACE_LABEL } from './admission.js';
import type { ObjectWatch, Pod } from './client.js';
import type { Cluster } from './cluster.js';
import { LABEL } from './manifests.js';
import { COMPONENT_LABEL, GATEWAY_COMPONENT } from './network-policy.js';
import type { ClusterEvent, DoorObject, WorkloadGuard } from './workload-guard.js';

const VAP_API = 'admissionregistration.k8s.io/v1';

export interface GuardWatchesDeps {
  cluster: Cluster;
  env: string;
  guard: WorkloadGuard;
  /** The in-cluster gateway's namespace: its DaemonSet, ServiceAccount, Role and RoleBinding are door objects too. */
  gatewayNamespace?: string;
  /** A watch failed: the caller starts them all again. */
  failed: (error: unknown) => void;
  log?: (line: Record<string, unknown>) => void;
}

type Handlers = Partial<Record<'add' | 'update' | 'delete', (o: unknown) => void>>;

/** Starts every watch (list, then watch) and returns them, to be stopped together. */
export async function startGuardWatches(deps: GuardWatchesDeps): Promise<Array<ObjectWatch<unknown>>> {
  const { cluster, env, guard } = deps;
  const selector = `${LABEL.env}=${env}`;
  const ofNamespace = `${NAMESPACE_LABEL}=${cluster.namespace}`;
  const judge = (fn: (o: never) => void): Handlers => ({ add: fn as never, update: fn as never });
  // Items of a list carry no kind: it is the watch's.
  const door = (kind: string): Handlers => ({
    add: (o) => guard.doorSeen({ ...(o as DoorObject), kind }, false),
    update: (o) => guard.doorSeen({ ...(o as DoorObject), kind }, false),
    delete: (o) => guard.doorSeen({ ...(o as DoorObject), kind }, true),
  });
  const plan: Array<[ObjectWatch<unknown>, Handlers]> = [
    [cluster.watch('v1', 'ConfigMap', `${LABEL.managedBy}=cairn`), door('ConfigMap')],
    [cluster.watch('networking.k8s.io/v1', 'NetworkPolicy', selector), door('NetworkPolicy')],
    [
      cluster.watch(VAP_API, 'ValidatingAdmissionPolicy', ofNamespace, true),
      door('ValidatingAdmissionPolicy'),
    ],
    [
      cluster.watch(VAP_API, 'ValidatingAdmissionPolicyBinding', ofNamespace, true),
      door('ValidatingAdmissionPolicyBinding'),
    ],
    [cluster.watch('apps/v1', 'Deployment', selector), judge((d: never) => guard.deploymentSeen(d))],
    [cluster.watch('v1', 'Pod', selector), judge((p: Pod) => guard.podSeen(p))],
    [cluster.watch('v1', 'Event'), judge((e: ClusterEvent) => guard.eventSeen(e))],
  ];
  const gwns = deps.gatewayNamespace;
  if (gwns) {
    const ofGateway = `${COMPONENT_LABEL}=${GATEWAY_COMPONENT},${selector}`;
    const rbac = 'rbac.authorization.k8s.io/v1';
    plan.push(
      [cluster.watch('apps/v1', 'DaemonSet', ofGateway, false, gwns), door('DaemonSet')],
      [cluster.watch('v1', 'ServiceAccount', ofGateway, false, gwns), door('ServiceAccount')],
      [cluster.watch(rbac, 'Role', ofGateway), door('Role')],
      [cluster.watch(rbac, 'RoleBinding', ofGateway), door('RoleBinding')],
    );
  }
  const started: Array<ObjectWatch<unknown>> = [];
  try {
    for (const [w, handlers] of plan) {
      for (const [verb, fn] of Object.entries(handlers)) w.on(verb as 'add', logged(deps, fn));
      w.on('error', (error) => deps.failed(error));
      started.push(w);
      await w.start();
    }
  } catch (error) {
    // None is left running when one could not start: the caller starts them all again.
    for (const w of started) await w.stop().catch(() => {});
    throw error;
  }
  return started;
}

/** A callback that logs what it cannot judge instead of ending the control plane. */
function logged(deps: GuardWatchesDeps, fn: (o: unknown) => void): (o: unknown) => void {
  return (o) => {
    try {
      fn(o);
    } catch (error) {
      deps.log?.({
        level: 'error',
        msg: 'judging a cluster object failed',
        env: deps.env,
        error: String(error),
      });
    }
  };
}
