/**
 * Keeps an environment's in-cluster gateway there: applies its objects once it is needed (the
 * image pushed and admitted first), follows its pods with a watch, and gives the router what it
 * needs of the cluster — the ConfigMap written by server-side apply, the Ready pods, and reads of
 * their admin listeners through the apiserver's pod proxy.
 */
import { apiserverBase } from '../gateway/cluster/pod-env.js';
import { ValidationError } from '../lib/index.js';
import type { Pod, PodWatch } from './client.js';
import type { Cluster } from './cluster.js';
import type { GatewayPodsApi } from './cluster-gateway.js';
import {
  DEFAULT_ADMIN_PORT,
  type GatewayWorkload,
  gatewayConfigMap,
  gatewayConfigMapRef,
  gatewayManifests,
  readGatewayDocument,
} from './gateway-manifests.js';
import { LABEL, type Manifest, namespaceManifest } from './manifests.js';
import { COMPONENT_LABEL, GATEWAY_COMPONENT } from './network-policy.js';
import type { PushedImage } from './release-image.js';

export interface GatewayKeeperDeps {
  env: string;
  gatewayNamespace: string;
  /** `gateway.listen`: where the pods listen on each node. */
  listen: string;
  connect: () => Promise<Cluster>;
  /** The gateway image, built, signed and pushed to the environment's registry. */
  image: () => Promise<PushedImage & { digest: string }>;
  /** Puts the gateway's digest on the environment's allow-list (its Binding covers the gateway namespace). */
  admit: (digest: string) => Promise<void>;
  /** The objects just applied, so the watch holds the live ones to them (drift). */
  applied: (objects: Manifest[]) => void;
  log?: (line: Record<string, unknown>) => void;
  /** First delay before a failed pod watch is started again (doubled up to 30 s). */
  rewatchMs?: number;
}

const REWATCH_MS = 1000;
const REWATCH_MAX_MS = 30_000;

export class GatewayKeeper {
  private ensured: Promise<void> | undefined;
  private watch: PodWatch | undefined;
  private watching: Promise<void> | undefined;
  private rewatch: NodeJS.Timeout | undefined;
  private rewatchDelay: number | undefined;
  private stopped = false;

  constructor(private readonly deps: GatewayKeeperDeps) {}

  /** The gateway's objects are in the cluster and its pods are watched (done once; retried after a failure). */
  ensure(): Promise<void> {
    this.ensured ??= this.applyAll().catch((error: unknown) => {
      this.ensured = undefined;
      throw error;
    });
    return this.ensured;
  }

  private async applyAll(): Promise<void> {
    const cluster = await this.deps.connect();
    // The pods reach the apiserver where this control plane does (a cluster may have no kube-proxy).
    const apiServer = gatewayApiServer(this.deps.env, cluster.server);
    const started = Date.now();
    // The Role and the ConfigMap live in the environment's namespace.
    await cluster.apply([namespaceManifest(cluster.namespace)]);
    const image = await this.deps.image();
    await this.deps.admit(image.digest);
    const objects = gatewayManifests(this.workload(cluster, image, apiServer));
    this.deps.applied(objects);
    await cluster.apply(objects);
    await this.startWatch(cluster);
    this.deps.log?.({
      msg: 'in-cluster gateway applied',
      env: this.deps.env,
      namespace: this.deps.gatewayNamespace,
      image: image.ref,
      ms: Date.now() - started,
    });
  }

  private workload(cluster: Cluster, image: PushedImage, apiServer: string): GatewayWorkload {
    return {
      apiServer,
      env: this.deps.env,
      namespace: cluster.namespace,
      gatewayNamespace: this.deps.gatewayNamespace,
      image: image.ref,
      uid: image.uid,
      listen: this.deps.listen,
    };
  }

  private startWatch(cluster: Cluster): Promise<void> {
    if (this.watch) return Promise.resolve();
    this.watching ??= this.openWatch(cluster).finally(() => {
      this.watching = undefined;
    });
    return this.watching;
  }

  private async openWatch(cluster: Cluster): Promise<void> {
    const selector = `${COMPONENT_LABEL}=${GATEWAY_COMPONENT},${LABEL.env}=${this.deps.env}`;
    const watch = cluster.watch<Pod>('v1', 'Pod', selector, false, this.deps.gatewayNamespace);
    watch.on('error', (error) => {
      if (this.watch !== watch) return;
      this.watch = undefined;
      void watch.stop().catch(() => {});
      this.restartWatch(error);
    });
    await watch.start();
    if (this.stopped) {
      await watch.stop().catch(() => {});
      return;
    }
    this.watch = watch;
  }

  /**
   * The pod watch failed (apiserver restart, network blip): started again with backoff, so the
   * router keeps seeing the Ready pods without waiting for the next deploy.
   */
  private restartWatch(error: unknown): void {
    if (this.stopped || this.rewatch) return;
    const first = this.deps.rewatchMs ?? REWATCH_MS;
    const delay = this.rewatchDelay ?? first;
    this.rewatchDelay = Math.min(delay * 2, REWATCH_MAX_MS);
    this.deps.log?.({
      level: 'warn',
      msg: 'gateway pod watch failed',
      env: this.deps.env,
      error: String(error),
      retryMs: delay,
    });
    this.rewatch = setTimeout(() => {
      this.rewatch = undefined;
      if (this.stopped) return;
      void this.deps
        .connect()
        .then((cluster) => this.startWatch(cluster))
        .then(() => {
          if (this.watch) this.rewatchDelay = undefined;
        })
        .catch((failed: unknown) => this.restartWatch(failed));
    }, delay);
    this.rewatch.unref();
  }

  /** The router's view of the cluster. */
  api(): GatewayPodsApi {
    return {
      writeConfig: async (doc) => {
        const cluster = await this.deps.connect();
        const cm = gatewayConfigMap(cluster.namespace, this.deps.env, doc);
        this.deps.applied([cm]);
        await cluster.apply([cm]);
      },
      readConfig: async () => {
        const cluster = await this.deps.connect();
        return readGatewayDocument(await cluster.read(gatewayConfigMapRef(cluster.namespace)));
      },
      readyPods: () => (this.watch?.list() ?? []).filter(isReady).map((p) => p.metadata?.name ?? ''),
      podGet: async (pod, path, timeoutMs) =>
        (await this.deps.connect()).podProxyGet(
          this.deps.gatewayNamespace,
          pod,
          DEFAULT_ADMIN_PORT,
          path,
          timeoutMs,
        ),
    };
  }

  /** The gateway pods as `kubectl get` shows them (status, hardening checks in tests). */
  pods(): readonly Pod[] {
    return this.watch?.list() ?? [];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.rewatch);
    this.rewatch = undefined;
    await this.watch?.stop().catch(() => {});
    this.watch = undefined;
  }
}

/**
 * The kubeconfig's server as the gateway pods get it (`CAIRN_KUBE_APISERVER`): https, with any
 * path prefix. Anything else is refused here, before the DaemonSet is applied, rather than seen
 * as pods that crash-loop (the pod sends its token only over TLS).
 */
export function gatewayApiServer(env: string, server: string): string {
  const base = apiserverBase(server);
  if (base === undefined)
    throw new ValidationError(
      `starting the in-cluster gateway of environment ${env}: the kubeconfig's server ${JSON.stringify(server)} is not an https URL`,
      [],
      {
        hint: 'the gateway pods reach the apiserver where cairn does, over https only: use a kubeconfig whose server is https://host[:port][/path], or remove kubernetes.gatewayNamespace',
      },
    );
  return base;
}

const isReady = (pod: Pod): boolean =>
  !pod.metadata?.deletionTimestamp &&
  (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
