/**
 * A Kubernetes environment: carries out what the rollout machine asks of the world — scale
 * release R to N (the replicas of R's own Deployment) and observe health (pod readiness, mirrored
 * into instance records by a watch) — the second implementation of the seam the reconciler uses
 * on this machine.
 */
import type { ReleaseRecord, ServingRecord } from '../state/index.js';
import type { Pod, PodWatch } from './client.js';
import { Cluster, type ClusterConfig } from './cluster.js';
import {
  deploymentManifest,
  namespaceManifest,
  type PinnedSecret,
  type ReleaseWorkload,
  secretManifest,
} from './manifests.js';
import type { PodMirror } from './pod-mirror.js';
import type { PushedImage } from './release-image.js';

/** A watch that failed is started again after this long. */
const REWATCH_MS = 2000;

export interface KubernetesEnvironmentDeps extends ClusterConfig {
  /** The release record by id (the state store). */
  release: (id: string) => ReleaseRecord | undefined;
  /** Pushes the release's image to the environment's registry (once per digest). */
  pushImage: (release: ReleaseRecord) => Promise<PushedImage>;
  /** The pinned secret versions of a release, with their values. */
  secrets: (release: ReleaseRecord) => Promise<PinnedSecret[]>;
  mirror: PodMirror;
  log?: (line: Record<string, unknown>) => void;
}

export class KubernetesEnvironment {
  readonly kind = 'kubernetes';
  private cluster: Promise<Cluster> | undefined;
  private watch: PodWatch | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly pushed = new Map<string, Promise<PushedImage>>();

  constructor(private readonly deps: KubernetesEnvironmentDeps) {}

  /** The connection, made on first use, so a bad kubeconfig fails the call that needs it. */
  private connect(): Promise<Cluster> {
    if (!this.cluster) {
      this.cluster = Cluster.open(this.deps);
      this.cluster.catch(() => {
        this.cluster = undefined;
      });
    }
    return this.cluster;
  }

  /**
   * Before a deploy changes any state: the cluster answers, the namespace is there (made and
   * labelled when absent) and the image is in the registry. Throws a DriverError naming the env.
   */
  async preflight(release: ReleaseRecord): Promise<void> {
    // A fresh connection: the kubeconfig may have changed since the last one.
    this.cluster = undefined;
    const cluster = await this.connect();
    await cluster.version();
    await cluster.apply([namespaceManifest(cluster.namespace)]);
    await this.image(release);
  }

  /**
   * Scale each release of `serving` to its replicas, one Deployment per release; a release at 0, or
   * no longer served, loses its Deployment (and so its pods).
   */
  async converge(serving: ServingRecord): Promise<void> {
    const cluster = await this.connect();
    for (const [releaseId, replicas] of Object.entries(serving.replicas)) {
      const release = this.deps.release(releaseId);
      if (!release || replicas === 0) continue;
      const w = await this.workload(release, cluster.namespace);
      await cluster.apply([
        namespaceManifest(cluster.namespace),
        ...w.secrets.map((s) => secretManifest(cluster.namespace, s)),
        deploymentManifest(w, replicas),
      ]);
    }
    for (const [name, releaseId] of await cluster.releasesOf(serving.service))
      if (!serving.replicas[releaseId]) await cluster.deleteDeployment(name);
  }

  private async workload(release: ReleaseRecord, namespace: string): Promise<ReleaseWorkload> {
    const image = await this.image(release);
    return {
      service: release.service,
      env: this.deps.env,
      releaseId: release.id,
      namespace,
      image: image.ref,
      uid: image.uid,
      run: release.config.run as ReleaseWorkload['run'],
      secrets: await this.deps.secrets(release),
    };
  }

  private image(release: ReleaseRecord): Promise<PushedImage> {
    let pushed = this.pushed.get(release.imageDigest);
    if (!pushed) {
      pushed = this.deps.pushImage(release);
      this.pushed.set(release.imageDigest, pushed);
      pushed.catch(() => this.pushed.delete(release.imageDigest));
    }
    return pushed;
  }

  /** Starts the pod watch; records follow the cluster from here on. Never throws: retries. */
  async start(): Promise<void> {
    if (this.stopped) return;
    try {
      const watch = (await this.connect()).watchPods();
      this.watch = watch;
      const seen = this.guard((pod: Pod) => this.deps.mirror.seen(pod));
      watch.on('add', seen);
      watch.on('update', seen);
      watch.on(
        'delete',
        this.guard((pod: Pod) => this.deps.mirror.gone(pod)),
      );
      watch.on('error', (error) => this.restart(error));
      await watch.start();
      this.deps.mirror.forgetAllBut(watch.list());
    } catch (error) {
      this.restart(error);
    }
  }

  /** A watch callback that logs what it cannot record instead of ending the control plane. */
  private guard(fn: (pod: Pod) => void): (pod: Pod) => void {
    return (pod) => {
      try {
        fn(pod);
      } catch (error) {
        const name = pod.metadata?.name;
        this.deps.log?.({
          level: 'error',
          msg: 'recording a pod failed',
          env: this.deps.env,
          pod: name,
          error: String(error),
        });
      }
    };
  }

  private restart(error: unknown): void {
    this.deps.log?.({ level: 'warn', msg: 'pod watch failed', env: this.deps.env, error: String(error) });
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.start();
    }, REWATCH_MS);
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.watch?.stop().catch(() => {});
  }
}
