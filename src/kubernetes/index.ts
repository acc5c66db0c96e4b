/** Kubernetes environments: releases as hardened per-release Deployments in a cluster, pods as instances. */
export {
  /** One environment's connection to its cluster (kubeconfig, server-side apply, pod watch). */
  Cluster,
  /** A failed API call as a DriverError naming the environment, the action and a fix. */
  clusterError,
} from './cluster.js';
export {
  /** Scales releases (Deployment replicas) and mirrors pods into instance records: the reconciler's seam. */
  KubernetesEnvironment,
  type KubernetesEnvironmentDeps,
} from './environment.js';
export {
  /** The objects a release becomes: namespace, immutable Secrets, a hardened Deployment (pure). */
  deploymentManifest,
  deploymentName,
  FIELD_MANAGER,
  LABEL,
  namespaceManifest,
  type PinnedSecret,
  type ReleaseWorkload,
  secretManifest,
  secretName,
} from './manifests.js';
export {
  /** The `driver` of instance records that are pods. */
  KUBERNETES_DRIVER,
  /** Pods as instance records, following a watch. */
  PodMirror,
  podState,
} from './pod-mirror.js';
export { type PushedImage, pushReleaseImage, uidOf } from './release-image.js';
