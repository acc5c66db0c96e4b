/** Kubernetes environments: releases as hardened per-release Deployments in a cluster, pods as instances. */
export {
  ADMITTED_CONFIGMAP,
  /** The digest allow-list and cairn's admission policies as ValidatingAdmissionPolicies (pure). */
  type AdmissionPolicy,
  type AdmittedRelease,
  admittedManifest,
  gatesManifests,
  policyManifests,
} from './admission.js';
export {
  /** One environment's connection to its cluster (kubeconfig, server-side apply, pod watch). */
  Cluster,
  /** A failed API call as a DriverError naming the environment, the action and a fix. */
  clusterError,
} from './cluster.js';
export {
  /** `cairn drift` of a Kubernetes environment: the live objects vs the state store. */
  checkClusterDrift,
  renderClusterDrift,
} from './cluster-drift.js';
export {
  /** The in-cluster gateway as the environment's TrafficRouter (ConfigMap writes, pod-proxy reads). */
  ClusterGateway,
  type ClusterGatewayConfig,
  type GatewayPodsApi,
  METRICS_SYNC_MS,
} from './cluster-gateway.js';
export {
  type ClusterCheck,
  /** `cairn doctor` of a Kubernetes environment: version, permissions (SelfSubjectAccessReview), VAP served. */
  checkCluster,
  NEEDED as NEEDED_PERMISSIONS,
} from './doctor.js';
export type { DoorFinding } from './door-drift.js';
export {
  /** The name the in-cluster gateway's entries on the allow-list are filed under. */
  GATEWAY_SERVICE,
  /** Scales releases (Deployment replicas) and mirrors pods into instance records: the reconciler's seam. */
  KubernetesEnvironment,
  type KubernetesEnvironmentDeps,
} from './environment.js';
export {
  /** The in-cluster gateway's image: host:node + the bundled pod program, signed and attested (reproducible). */
  buildGatewayImage,
  GATEWAY_BUNDLE,
  GATEWAY_IMAGE_ENTRYPOINT,
  GATEWAY_IMAGE_NAME,
  type GatewayImage,
  type GatewayImageOptions,
} from './gateway-image.js';
export { GatewayKeeper } from './gateway-keeper.js';
export {
  /** The in-cluster gateway's objects (namespace, RBAC, DaemonSet, ConfigMap) as plain data. */
  DEFAULT_ADMIN_PORT,
  GATEWAY_NAME,
  type GatewayDocument,
  type GatewayWorkload,
  gatewayConfigMap,
  gatewayDaemonSet,
  gatewayManifests,
  readGatewayDocument,
} from './gateway-manifests.js';
export {
  /** The objects a release becomes: namespace, immutable Secrets, a hardened Deployment (pure). */
  deploymentManifest,
  deploymentName,
  FIELD_MANAGER,
  LABEL,
  type Manifest,
  namespaceManifest,
  type PinnedSecret,
  type ReleaseWorkload,
  secretManifest,
  secretName,
} from './manifests.js';
export {
  hostCidr,
  type NetworkPaths,
  /** A service's network paths as a NetworkPolicy (pure). */
  networkPolicyManifest,
} from './network-policy.js';
export {
  /** `cairn plan` of a Kubernetes environment: the objects a deploy would create or delete (pure). */
  type ClusterPlan,
  type ClusterPlanInput,
  clusterChanges,
  type PlannedObject,
  planClusterObjects,
  type SecretVersion,
  type ServicePlanInput,
} from './plan.js';
export { readLiveObjects } from './plan-live.js';
export { renderClusterPlan } from './plan-render.js';
export {
  /** The `driver` of instance records that are pods. */
  KUBERNETES_DRIVER,
  /** Pods as instance records, following a watch. */
  PodMirror,
  podState,
} from './pod-mirror.js';
export { type PushedImage, pushReleaseImage, uidOf } from './release-image.js';
export {
  /** Drift of cairn's Deployments and pods: what should be vs the live objects (pure). */
  judgeWorkloads,
  type LiveDeployment,
  type LivePod,
  type WorkloadFinding,
} from './workload-drift.js';
export type { OpenFinding } from './workload-guard.js';
