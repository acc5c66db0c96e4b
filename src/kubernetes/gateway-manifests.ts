/**
 * The objects of cairn's gateway in a cluster, as plain data: its namespace (Pod Security
 * `privileged`, because the pods use the node's network), the ServiceAccount `cairn-gateway`, a
 * Role and RoleBinding in the environment's namespace that let it read one ConfigMap, that
 * ConfigMap (`gateway.json`: version, config, pools), and the DaemonSet whose hardened,
 * host-network pods serve the environment at its `gateway.listen` on every node.
 * Pure: no client, no I/O.
 */
import {
  DOCUMENT_KEY,
  documentOf,
  GATEWAY_NAME,
  type GatewayDocument,
  parseDocument,
} from '../gateway/cluster/gateway-document.js';
import { ValidationError } from '../lib/index.js';
import { LABEL, type Manifest } from './manifests.js';
import { COMPONENT_LABEL, GATEWAY_COMPONENT } from './network-policy.js';

/** The name of every gateway object (ServiceAccount, Role, RoleBinding, ConfigMap, DaemonSet). */
export { GATEWAY_NAME, type GatewayDocument };
/** The ConfigMap's data key the gateway pods read. */
export const GATEWAY_CONFIG_KEY = DOCUMENT_KEY;
/** The admin listener's port on the pod's (node's) address: /healthz, /_cairn/status, /_cairn/metrics. */
export const DEFAULT_ADMIN_PORT = 9464;
/** The uid the gateway image runs as (cairn's images run as 65532). */
export const GATEWAY_UID = 65532;

export interface GatewayWorkload {
  env: string;
  /** The environment's namespace (releases, the ConfigMap, the Role). */
  namespace: string;
  gatewayNamespace: string;
  /** `REGISTRY/cairn-gateway@sha256:…` */
  image: string;
  /** host:port on each node (`gateway.listen`). */
  listen: string;
  /** The image's numeric user (default 65532, cairn's). */
  uid?: number;
  adminPort?: number;
  /** The apiserver as the pods reach it; absent: the in-cluster Service (`KUBERNETES_SERVICE_HOST`). */
  apiServer?: string;
}

const managed = { [LABEL.managedBy]: 'cairn' };
const gatewayLabels = (env: string) => ({ [COMPONENT_LABEL]: GATEWAY_COMPONENT, [LABEL.env]: env });

/**
 * The gateway's namespace. `privileged`, not `restricted`: a host-network pod is refused by both
 * `restricted` and `baseline`; the pod is hardened all the same (see `gatewayDaemonSet`), and
 * cairn's admission policy admits only the gateway's digest there.
 */
export function gatewayNamespaceManifest(gatewayNamespace: string): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: gatewayNamespace,
      labels: {
        ...managed,
        'pod-security.kubernetes.io/enforce': 'privileged',
        'pod-security.kubernetes.io/enforce-version': 'latest',
      },
    },
  };
}

export function gatewayServiceAccount(w: Pick<GatewayWorkload, 'env' | 'gatewayNamespace'>): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: GATEWAY_NAME,
      namespace: w.gatewayNamespace,
      labels: { ...managed, ...gatewayLabels(w.env) },
    },
  };
}

/** Read (get, list, watch) the ConfigMap `cairn-gateway` of the environment's namespace, nothing else. */
export function gatewayRole(w: Pick<GatewayWorkload, 'env' | 'namespace'>): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: GATEWAY_NAME, namespace: w.namespace, labels: { ...managed, ...gatewayLabels(w.env) } },
    rules: [
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: [GATEWAY_NAME],
        verbs: ['get', 'list', 'watch'],
      },
    ],
  };
}

export function gatewayRoleBinding(
  w: Pick<GatewayWorkload, 'env' | 'namespace' | 'gatewayNamespace'>,
): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: GATEWAY_NAME, namespace: w.namespace, labels: { ...managed, ...gatewayLabels(w.env) } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: GATEWAY_NAME },
    subjects: [{ kind: 'ServiceAccount', name: GATEWAY_NAME, namespace: w.gatewayNamespace }],
  };
}

/** The ConfigMap `cairn-gateway` of the environment's namespace, without its document (to read it). */
export function gatewayConfigMapRef(namespace: string): Manifest {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: GATEWAY_NAME, namespace } };
}

/**
 * The ConfigMap holding `doc`, checked first with the pods' own parser: a version cairn writes is
 * never one the pods refuse (they would keep serving the last good one while `setPools` waits).
 */
export function gatewayConfigMap(namespace: string, env: string, doc: GatewayDocument): Manifest {
  const text = JSON.stringify(doc);
  try {
    parseDocument(text);
  } catch (error) {
    throw new ValidationError(
      `writing the in-cluster gateway's config of environment ${env}: the gateway pods would refuse it (${(error as Error).message})`,
      [],
      { hint: 'this is a bug in cairn: please report it with the message above' },
    );
  }
  return {
    ...gatewayConfigMapRef(namespace),
    metadata: { name: GATEWAY_NAME, namespace, labels: { ...managed, ...gatewayLabels(env) } },
    data: { [GATEWAY_CONFIG_KEY]: text },
  };
}

/** The gateway document a ConfigMap holds, or undefined when it holds none the pods would accept. */
export function readGatewayDocument(configMap: object | undefined): GatewayDocument | undefined {
  if (!configMap) return undefined;
  try {
    return documentOf(configMap);
  } catch {
    return undefined;
  }
}

/**
 * One gateway pod per node, on the node's network (the environment's address is the node's; no
 * kube-proxy or NodePort needed), hardened as a release's pod is: non-root, read-only root,
 * no privilege escalation, no capability, RuntimeDefault seccomp. Its one credential is the
 * ServiceAccount token the Role limits to reading its ConfigMap.
 */
export function gatewayDaemonSet(w: GatewayWorkload): Manifest {
  const labels = gatewayLabels(w.env);
  const admin = w.adminPort ?? DEFAULT_ADMIN_PORT;
  const uid = w.uid ?? GATEWAY_UID;
  const port = Number(w.listen.slice(w.listen.lastIndexOf(':') + 1));
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: GATEWAY_NAME, namespace: w.gatewayNamespace, labels: { ...managed, ...labels } },
    spec: {
      selector: { matchLabels: labels },
      // One pod per node holds the node's port: the old one goes before the new one comes.
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels },
        spec: {
          hostNetwork: true,
          // The cluster may have no DNS of its own: resolve as the node does.
          dnsPolicy: 'Default',
          serviceAccountName: GATEWAY_NAME,
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: uid,
            runAsGroup: uid,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'gateway',
              image: w.image,
              imagePullPolicy: 'IfNotPresent',
              ports: [
                { name: 'http', containerPort: port },
                { name: 'admin', containerPort: admin },
              ],
              env: [
                { name: 'CAIRN_GATEWAY_LISTEN', value: w.listen },
                { name: 'CAIRN_GATEWAY_ADMIN_PORT', value: String(admin) },
                { name: 'CAIRN_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                { name: 'CAIRN_GATEWAY_NAMESPACE', value: w.namespace },
                { name: 'CAIRN_GATEWAY_CONFIGMAP', value: GATEWAY_NAME },
                ...(w.apiServer ? [{ name: 'CAIRN_KUBE_APISERVER', value: w.apiServer }] : []),
              ],
              readinessProbe: {
                httpGet: { path: '/healthz', port: admin },
                periodSeconds: 1,
                failureThreshold: 3,
              },
              // Liveness asks only that the process answers: /healthz is 503 until the first
              // ConfigMap is applied, and a pod waiting for it must not be restarted for that.
              livenessProbe: {
                httpGet: { path: '/livez', port: admin },
                initialDelaySeconds: 30,
                periodSeconds: 5,
                failureThreshold: 6,
              },
              securityContext: {
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                runAsUser: uid,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
            },
          ],
        },
      },
    },
  };
}

/** Every gateway object but the ConfigMap, in the order they are applied. */
export function gatewayManifests(w: GatewayWorkload): Manifest[] {
  return [
    gatewayNamespaceManifest(w.gatewayNamespace),
    gatewayServiceAccount(w),
    gatewayRole(w),
    gatewayRoleBinding(w),
    gatewayDaemonSet(w),
  ];
}
