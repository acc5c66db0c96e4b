/**
 * A Kubernetes environment: carries out what the rollout machine asks of the world — scale
 * release R to N (the replicas of R's own Deployment) and observe health (pod readiness, mirrored
 * into instance records by a watch) — the second implementation of the seam the reconciler uses
 * on this machine.
 */
import type { AuditLog } from '../audit/index.js';
import type { ReleaseRecord, ServingRecord, SqliteStateStore } from '../state/index.js';
import type { AdmissionPolicy, AdmittedRelease } from './admission.js';
import type { ObjectWatch, Pod, PodWatch } from './client.js';
import { Cluster, type ClusterConfig } from './cluster.js';
import { configFileManifest, type PinnedConfigFile } from './config-files.js';
import { collectUnpinned, keepDoor } from './door.js';
import { GatewayKeeper } from './gateway-keeper.js';
import { GATEWAY_NAME } from './gateway-manifests.js';
import { startGuardWatches } from './guard-watches.js';
import {
  deploymentManifest,
  deploymentName,
  type Manifest,
  namespaceManifest,
  type PinnedSecret,
  type ReleaseWorkload,
  secretManifest,
  secretName,
} from './manifests.js';
import { hostCidr, releaseNetworkPolicy } from './network-policy.js';
import { type PodMirror, podState } from './pod-mirror.js';
import type { PushedImage } from './release-image.js';
import { WorkloadGuard } from './workload-guard.js';

/** A watch that failed is started again after this long. */
const REWATCH_MS = 2000;

export interface KubernetesEnvironmentDeps extends ClusterConfig {
  /** The release record by id (the state store). */
  release: (id: string) => ReleaseRecord | undefined;
  /** Pushes the release's image to the environment's registry (once per digest). */
  pushImage: (release: ReleaseRecord) => Promise<PushedImage>;
  /** The pinned secret versions of a release, with their values. */
  secrets: (release: ReleaseRecord) => Promise<PinnedSecret[]>;
  /** The pinned configuration files of a release (path → content, checked against their digests). */
  configFiles: (release: ReleaseRecord) => Promise<Record<string, Buffer>>;
  mirror: PodMirror;
  store: SqliteStateStore;
  audit: AuditLog;
  /** Asks the environment's gates at the `admission` door; the names of the policies that held. Throws when denied. */
  admit: (release: ReleaseRecord) => Promise<string[]>;
  /** The environment's cairn policies that match `admission`. */
  admissionPolicies: () => AdmissionPolicy[];
  /** The services `service` may call (with their ports) and those that may call it (`run.network.allow`). */
  neighbours: (service: string) => { allow: Array<{ service: string; port: number }>; callers: string[] };
  /**
   * The gateway image pushed to the environment's registry, for an environment whose gateway runs
   * in the cluster (`kubernetes.gatewayNamespace`).
   */
  gatewayImage?: () => Promise<PushedImage & { digest: string }>;
  /** `gateway.listen`: where the in-cluster gateway's pods listen on each node. */
  gatewayListen?: string;
  /** The environment's `drift.mode` (default enforce): `warn` reports changed workloads without repairing them. */
  driftMode?: 'enforce' | 'warn';
  log?: (line: Record<string, unknown>) => void;
}

/** The allow-list entries of the gateway image are filed under this name. */
export const GATEWAY_SERVICE = GATEWAY_NAME;

export class KubernetesEnvironment {
  readonly kind = 'kubernetes';
  private cluster: Promise<Cluster> | undefined;
  private watch: PodWatch | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly pushed = new Map<string, Promise<PushedImage>>();
  /** The Deployment cairn last applied, by name: what the watch judges a live one against. */
  private readonly applied = new Map<string, Manifest>();
  /** The VAPs, Bindings and NetworkPolicies cairn last applied, by `Kind/name`. */
  private readonly door = new Map<string, Manifest>();
  /** What each service last had admitted: the allow-list is written again from it. */
  private readonly admittedBy = new Map<string, AdmittedRelease[]>();
  /** The configuration-file ConfigMaps cairn applied, by `ConfigMap/name`: the watch puts a deleted one back. */
  private readonly files = new Map<string, Manifest>();
  /** Secrets and ConfigMaps (`Kind/name`) being applied with their Deployment (never collected meanwhile). */
  private readonly pendingPinned = new Set<string>();
  private readonly watches: Array<ObjectWatch<unknown>> = [];
  private nodes: Promise<string[]> | undefined;
  readonly workloads: WorkloadGuard;
  /** The in-cluster gateway, when the environment has a gatewayNamespace. */
  readonly gateway: GatewayKeeper | undefined;

  constructor(private readonly deps: KubernetesEnvironmentDeps) {
    this.gateway = this.keeper();
    this.workloads = new WorkloadGuard({
      env: deps.env,
      store: deps.store,
      audit: deps.audit,
      cluster: () => this.connect(),
      applied: (name) => this.applied.get(name),
      doorObject: (key) => this.door.get(key) ?? this.files.get(key),
      restoreDoor: () => this.restoreDoor(),
      ...(deps.driftMode ? { mode: deps.driftMode } : {}),
      ...(deps.log ? { log: deps.log } : {}),
    });
  }

  private keeper(): GatewayKeeper | undefined {
    const { gatewayNamespace } = this.deps.target;
    const { gatewayImage, gatewayListen } = this.deps;
    if (!gatewayNamespace || !gatewayImage || !gatewayListen) return undefined;
    return new GatewayKeeper({
      env: this.deps.env,
      gatewayNamespace,
      listen: gatewayListen,
      connect: () => this.connect(),
      image: gatewayImage,
      admit: async (digest) => {
        this.admittedBy.set(GATEWAY_SERVICE, [
          { digest, releaseId: GATEWAY_SERVICE, service: GATEWAY_SERVICE, policies: [] },
        ]);
        await this.keepDoor(await this.connect(), GATEWAY_SERVICE);
      },
      applied: (objects) => {
        for (const o of objects) this.door.set(`${o.kind}/${String(o.metadata.name)}`, o);
      },
      ...(this.deps.log ? { log: this.deps.log } : {}),
    });
  }

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
   * labelled when absent), the image is in the registry and the pinned configuration files match
   * their digests. Throws a DriverError naming the env (an IntegrityError for a file).
   */
  async preflight(release: ReleaseRecord): Promise<void> {
    // A fresh connection: the kubeconfig may have changed since the last one.
    this.cluster = undefined;
    const cluster = await this.connect();
    await cluster.version();
    await cluster.apply([namespaceManifest(cluster.namespace)]);
    await this.image(release);
    // A pinned file that is missing or no longer matches its digest fails the deploy now, not a pod later.
    for (const f of await this.configFiles(release)) configFileManifest(cluster.namespace, f);
    // The gateway serves before the release's pods are Ready, so the switch only waits for its watch.
    await this.gateway?.ensure();
  }

  /**
   * Scale each release of `serving` to its replicas, one Deployment per release; a release at 0, or
   * no longer served, loses its Deployment (and so its pods).
   */
  async converge(serving: ServingRecord): Promise<void> {
    const cluster = await this.connect();
    const ns = cluster.namespace;
    const releases = Object.entries(serving.replicas)
      .filter(([, replicas]) => replicas > 0)
      .map(([id, replicas]) => ({ release: this.deps.release(id), replicas }))
      .filter((r): r is { release: ReleaseRecord; replicas: number } => r.release !== undefined);
    // The gates first: a release they refuse is not on the allow-list and gets no Deployment.
    const admitted: AdmittedRelease[] = [];
    for (const { release } of releases) {
      const policies = await this.deps.admit(release);
      admitted.push({
        digest: release.imageDigest,
        releaseId: release.id,
        service: release.service,
        policies,
      });
    }
    await cluster.apply([namespaceManifest(ns)]);
    this.admittedBy.set(serving.service, admitted);
    await this.keepDoor(cluster, serving.service);
    if (releases[0]) {
      const policy = await this.networkPolicy(cluster, releases[0].release);
      this.door.set(`NetworkPolicy/${String(policy.metadata.name)}`, policy);
      await cluster.apply([policy]);
    }
    for (const { release, replicas } of releases) await this.applyRelease(cluster, release, replicas);
    for (const [name, releaseId] of await cluster.releasesOf(serving.service))
      if (!serving.replicas[releaseId]) {
        this.applied.delete(name);
        await cluster.deleteDeployment(name);
      }
    const collected = await collectUnpinned(cluster, this.pendingPinned, (key) => this.files.delete(key));
    if (collected.length > 0)
      this.deps.log?.({ msg: 'deleted objects no release pins', env: this.deps.env, objects: collected });
  }

  private async keepDoor(cluster: Cluster, service: string): Promise<void> {
    const admitted = this.admittedBy.get(service) ?? [];
    const vaps = await keepDoor(
      cluster,
      this.deps.env,
      service,
      admitted,
      this.deps.admissionPolicies(),
      this.gateway ? this.deps.target.gatewayNamespace : undefined,
    );
    for (const v of vaps) this.door.set(`${v.kind}/${String(v.metadata.name)}`, v);
  }

  /** The allow-list and the VAPs written again from what each service last had admitted. */
  private async restoreDoor(): Promise<void> {
    const cluster = await this.connect();
    for (const service of this.admittedBy.keys()) await this.keepDoor(cluster, service);
  }

  private async applyRelease(cluster: Cluster, release: ReleaseRecord, replicas: number): Promise<void> {
    const w = await this.workload(release, cluster.namespace);
    const deployment = deploymentManifest(w, replicas);
    // Checked against the release's digests before anything is written.
    const files = (w.files ?? []).map((f) => configFileManifest(cluster.namespace, f));
    const pinned = [
      ...w.secrets.map((s) => `Secret/${secretName(s)}`),
      ...files.map((f) => `ConfigMap/${f.metadata.name}`),
    ];
    for (const key of pinned) this.pendingPinned.add(key);
    // Known before it is applied, so the watch judges cairn's own change as cairn's.
    this.applied.set(deploymentName(release.service, release.id), deployment);
    for (const f of files) this.files.set(`ConfigMap/${f.metadata.name}`, f);
    try {
      await cluster.apply([
        ...w.secrets.map((s) => secretManifest(cluster.namespace, s)),
        ...files,
        deployment,
      ]);
    } finally {
      for (const key of pinned) this.pendingPinned.delete(key);
    }
  }

  private async networkPolicy(cluster: Cluster, release: ReleaseRecord): Promise<Manifest> {
    this.nodes ??= cluster.nodeAddresses().catch((error: unknown) => {
      this.nodes = undefined;
      throw error;
    });
    const at = {
      env: this.deps.env,
      namespace: cluster.namespace,
      nodeCidrs: (await this.nodes).map(hostCidr),
    };
    return releaseNetworkPolicy(release, at, this.deps.neighbours(release.service));
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
      files: await this.configFiles(release),
    };
  }

  private async configFiles(release: ReleaseRecord): Promise<PinnedConfigFile[]> {
    const digests = (release.config.run as { files?: Record<string, string> }).files ?? {};
    if (Object.keys(digests).length === 0) return [];
    const content = await this.deps.configFiles(release);
    return Object.entries(digests).map(([path, digest]) => ({
      path,
      digest,
      content: content[path] ?? Buffer.alloc(0),
    }));
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
    await this.stopWatches();
    try {
      const watch = (await this.connect()).watchPods();
      this.watch = watch;
      const seen = this.guard((pod: Pod) => {
        this.deps.mirror.seen(pod);
        this.replaceCrashed(pod);
      });
      watch.on('add', seen);
      watch.on('update', seen);
      watch.on(
        'delete',
        this.guard((pod: Pod) => this.deps.mirror.gone(pod)),
      );
      watch.on('error', (error) => this.restart(error));
      await watch.start();
      this.deps.mirror.forgetAllBut(watch.list());
      const started = startGuardWatches({
        cluster: await this.connect(),
        env: this.deps.env,
        ...(this.gateway ? { gatewayNamespace: this.deps.target.gatewayNamespace } : {}),
        guard: this.workloads,
        failed: (error) => this.restart(error),
        ...(this.deps.log ? { log: this.deps.log } : {}),
      });
      this.watches.push(...(await started));
    } catch (error) {
      this.restart(error);
    }
  }

  /**
   * A crash-looping pod failed (its record says why): it is deleted, so its ReplicaSet makes a new
   * one — a crashed instance is replaced, as on one machine, and each crash counts for the rollout.
   */
  private replaceCrashed(pod: Pod): void {
    if (podState(pod) !== 'failed' || pod.metadata?.deletionTimestamp || pod.status?.phase === 'Failed')
      return;
    const object = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod.metadata?.name, namespace: pod.metadata?.namespace },
    };
    void this.connect()
      .then((c) => c.remove(object))
      .catch((error: unknown) =>
        this.deps.log?.({
          level: 'warn',
          msg: 'deleting a crashed pod failed',
          pod: pod.metadata?.name,
          error: String(error),
        }),
      );
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
    // Once per retry: the pod, Deployment and event watches of a cluster that is down all fail together.
    if (this.stopped || this.retry) return;
    this.deps.log?.({ level: 'warn', msg: 'cluster watch failed', env: this.deps.env, error: String(error) });
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.start();
    }, REWATCH_MS);
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.stopWatches();
    await this.gateway?.stop();
  }

  private async stopWatches(): Promise<void> {
    await this.watch?.stop().catch(() => {});
    this.watch = undefined;
    for (const w of this.watches.splice(0)) await w.stop().catch(() => {});
  }
}
