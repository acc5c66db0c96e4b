/**
 * The `TrafficRouter` of an environment whose gateway runs in the cluster: `setPools` is one
 * server-side apply of the ConfigMap the gateway pods watch (its version +1), resolved once every
 * Ready gateway pod reports that version; `drain` waits until no pod has a request in flight on the
 * endpoint; `metrics` reads a mirror of the pods' window metrics, merged over pods and refreshed
 * every 500 ms, so the rollout analysis sees what one gateway taking every request would have seen.
 */
import {
  MetricsRecorder,
  type MetricsSnapshot,
  type Pool,
  type RecorderExport,
  type TrafficRouter,
  type WindowMetrics,
  type WireConfig,
} from '../gateway/index.js';
import { DriverError, ValidationError } from '../lib/index.js';
import type { GatewayDocument } from './gateway-manifests.js';
import { mergeExports } from './merge-metrics.js';

/** How often the pods' metrics are mirrored (as the gateway process's are on one machine). */
export const METRICS_SYNC_MS = 500;
/** How long a write may take to reach every Ready gateway pod before `setPools` fails. */
const SETTLE_TIMEOUT_MS = 15_000;
/** How long a new gateway may take to serve (its image pulled, its first config applied). */
const OPEN_TIMEOUT_MS = 180_000;
/** Between two reads of the pods' applied version while a write settles. */
const SETTLE_POLL_MS = 20;
const DRAIN_POLL_MS = 100;
const DEFAULT_DRAIN_MS = 30_000;
/** One pod read through the apiserver may take this long. */
const POD_CALL_MS = 3_000;

/** What the router needs of the cluster (the environment wires it to the apiserver). */
export interface GatewayPodsApi {
  /** Server-side apply of the ConfigMap holding `doc`. */
  writeConfig(doc: GatewayDocument): Promise<void>;
  /** The document the live ConfigMap holds (a restarted control plane continues from it). */
  readConfig(): Promise<GatewayDocument | undefined>;
  /** The gateway pods that are Ready now, by name. */
  readyPods(): string[];
  /** GET of `path` on a pod's admin listener (the apiserver's pod proxy), as JSON. */
  podGet(pod: string, path: string, timeoutMs: number): Promise<unknown>;
}

export interface ClusterGatewayConfig {
  env: string;
  gatewayNamespace: string;
  /** Routes and limits for the pods (their listen address is their own). */
  config: WireConfig;
  api: GatewayPodsApi;
  /** Before the first write: the gateway's objects are in the cluster (namespace, RBAC, DaemonSet). */
  ensure?: () => Promise<void>;
  settleTimeoutMs?: number;
  now?: () => number;
  log?: (line: Record<string, unknown>) => void;
}

interface PodStatus {
  version?: number;
  inflight?: Record<string, number>;
}

export class ClusterGateway implements TrafficRouter {
  readonly kind = 'kubernetes';
  private doc: GatewayDocument | undefined;
  private writes: Promise<unknown> = Promise.resolve();
  private readonly pods = new Map<string, { recorder: MetricsRecorder; syncedSecond: number }>();
  private mirror = new MetricsRecorder();
  private timer: NodeJS.Timeout | undefined;
  private syncing = false;
  /** A Ready pod applied what `open` wrote once. */
  private opened = false;
  private stopped = false;
  /** The waits in progress (settle, open, drain polling): `stop` ends each. */
  private readonly waits = new Set<{ timer: NodeJS.Timeout; reject: (error: Error) => void }>();

  /** Routes and limits the pods get; `setRoutes` replaces the routes (`cairn apply`). */
  private config: WireConfig;

  constructor(private readonly c: ClusterGatewayConfig) {
    this.config = c.config;
  }

  /** What the gateway pods are told to serve now, for `cairn apply`'s plan. */
  get served(): WireConfig {
    return this.config;
  }

  /**
   * New routes (`cairn apply`): one write of the document with them, the pools kept; resolves
   * once every Ready gateway pod serves them. A route with a shared secret is refused: a secret
   * never goes in a ConfigMap (validate refuses it for such an environment first).
   */
  setRoutes(routes: WireConfig['routes']): Promise<void> {
    const secret = routes.find((r) => r.auth?.secretBase64 !== undefined);
    if (secret)
      return Promise.reject(
        new ValidationError(
          `applying the routes of environment ${this.c.env}: route ${secret.host}${secret.path} has an HS256 secret, which the gateway in the cluster cannot hold`,
          [],
          { hint: 'use auth.jwks (public keys) for routes served by the gateway in the cluster' },
        ),
      );
    const write = this.writes.then(async () => {
      this.checkRunning();
      const current = await this.current();
      const config = { ...this.config, routes };
      const doc: GatewayDocument = { version: current.version + 1, config, pools: current.pools };
      await this.c.api.writeConfig(doc);
      this.config = config;
      this.doc = doc;
      await this.settle(doc.version);
    });
    this.writes = write.catch(() => {});
    return write;
  }

  /** Replaces a service's pools in the ConfigMap; resolves when every Ready gateway pod serves them. */
  setPools(service: string, pools: Pool[]): Promise<void> {
    const write = this.writes.then(() => {
      this.checkRunning();
      return this.write(service, pools);
    });
    this.writes = write.catch(() => {});
    return write;
  }

  /**
   * Resolves once the gateway serves: its objects applied, a config written (the live one's pools
   * kept) and at least one Ready pod applying it. A deploy waits for this before its rollout, so
   * the first switch of traffic does not wait for an image pull.
   */
  open(timeoutMs = OPEN_TIMEOUT_MS): Promise<void> {
    const opened = this.writes.then(async () => {
      this.checkRunning();
      // Served and watched already: nothing to wait for (the objects are applied again only when lost).
      if (this.opened && this.c.api.readyPods().length > 0) return this.c.ensure?.();
      const doc = await this.current();
      const next = { ...doc, version: doc.version + 1, config: this.config };
      await this.c.api.writeConfig(next);
      this.doc = next;
      await this.settle(next.version, timeoutMs);
      this.opened = true;
    });
    this.writes = opened.catch(() => {});
    return opened;
  }

  /** The document last written: read from the live ConfigMap the first time (the objects applied first). */
  private async current(): Promise<GatewayDocument> {
    if (!this.doc) {
      await this.c.ensure?.();
      const live = await this.c.api.readConfig();
      // The next write must be above every version a pod reports, or `settle` would take a pod's
      // older document for the new one: the live document's version may be lost (unreadable,
      // deleted) while the pods still serve a later one.
      const reported = await Promise.all(this.c.api.readyPods().map((p) => this.status(p)));
      const version = Math.max(
        live?.version ?? 0,
        ...reported.map((s) => (typeof s?.version === 'number' ? s.version : 0)),
      );
      // Keep the other services' pools.
      this.doc = { version, config: this.config, pools: { ...(live?.pools ?? {}) } };
    }
    return this.doc;
  }

  private async write(service: string, pools: Pool[]): Promise<void> {
    const current = await this.current();
    const doc: GatewayDocument = {
      version: current.version + 1,
      config: this.config,
      pools: { ...current.pools, [service]: pools },
    };
    await this.c.api.writeConfig(doc);
    this.doc = doc;
    await this.settle(doc.version);
  }

  /** Waits until every Ready pod (at least one) reports `version` or later. */
  private async settle(
    version: number,
    timeoutMs = this.c.settleTimeoutMs ?? SETTLE_TIMEOUT_MS,
  ): Promise<void> {
    const deadline = this.now() + timeoutMs;
    let behind: string[] = [];
    for (;;) {
      const pods = this.c.api.readyPods();
      const statuses = await Promise.all(pods.map((p) => this.status(p)));
      behind = pods.filter((_, i) => !((statuses[i]?.version ?? -1) >= version));
      if (pods.length > 0 && behind.length === 0) return;
      if (this.now() >= deadline) break;
      await this.pause(SETTLE_POLL_MS);
    }
    const ns = this.c.gatewayNamespace;
    throw new DriverError(
      behind.length > 0
        ? `setting the gateway's pools in environment ${this.c.env}: gateway pod ${behind.join(', ')} (namespace ${ns}) did not apply version ${version} in time`
        : `setting the gateway's pools in environment ${this.c.env}: no gateway pod is Ready in namespace ${ns}`,
      {
        hint: `kubectl -n ${ns} describe daemonset cairn-gateway; kubectl -n ${ns} logs daemonset/cairn-gateway`,
      },
    );
  }

  private status(pod: string): Promise<PodStatus | undefined> {
    return (this.c.api.podGet(pod, '/_cairn/status', POD_CALL_MS) as Promise<PodStatus>).catch(
      () => undefined,
    );
  }

  /** Resolves once no gateway pod has a request in flight on the endpoint (or after the timeout). */
  async drain(endpointId: string, timeoutMs = DEFAULT_DRAIN_MS): Promise<void> {
    const deadline = this.now() + timeoutMs;
    while (this.now() < deadline) {
      this.checkRunning();
      const statuses = await Promise.all(this.c.api.readyPods().map((p) => this.status(p)));
      if (statuses.every((s) => !(s?.inflight?.[endpointId] ?? 0))) return;
      await this.pause(DRAIN_POLL_MS);
    }
  }

  metrics(service: string, release: string, windowMs: number): WindowMetrics {
    return this.mirror.query(service, release, windowMs, this.now());
  }

  /** Cumulative counters merged over the pods (cairn's /metrics). */
  snapshot(): MetricsSnapshot {
    return this.mirror.snapshot();
  }

  /** Starts mirroring the pods' metrics. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.syncMetrics(), METRICS_SYNC_MS);
    this.timer.unref();
  }

  /** Stops the mirror and ends every wait in progress (each rejects: the control plane is stopping). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const wait of this.waits) {
      clearTimeout(wait.timer);
      wait.reject(this.stoppingError());
    }
    this.waits.clear();
  }

  private stoppingError(): DriverError {
    return new DriverError(
      `waiting for the in-cluster gateway of environment ${this.c.env}: the control plane is stopping`,
    );
  }

  private checkRunning(): void {
    if (this.stopped) throw this.stoppingError();
  }

  /** A poll interval that `stop` ends at once. */
  private pause(ms: number): Promise<void> {
    this.checkRunning();
    return new Promise<void>((resolve, reject) => {
      const wait = {
        timer: setTimeout(() => {
          this.waits.delete(wait);
          resolve();
        }, ms),
        reject,
      };
      this.waits.add(wait);
    });
  }

  /** One refresh of the mirror: each Ready pod's slots since its last read, then all merged. */
  async syncMetrics(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      const ready = this.c.api.readyPods();
      for (const name of this.pods.keys()) if (!ready.includes(name)) this.pods.delete(name);
      await Promise.all(ready.map((pod) => this.syncPod(pod)));
      const retention = Math.floor(this.now() / 1000) - 600;
      const merged = new MetricsRecorder();
      merged.importFrom(mergeExports([...this.pods.values()].map((p) => p.recorder.exportSince(retention))));
      this.mirror = merged;
    } finally {
      this.syncing = false;
    }
  }

  private async syncPod(pod: string): Promise<void> {
    const known = this.pods.get(pod) ?? { recorder: new MetricsRecorder(), syncedSecond: 0 };
    const nowS = Math.floor(this.now() / 1000);
    try {
      const path = `/_cairn/metrics?since=${Math.max(0, known.syncedSecond - 1)}`;
      known.recorder.importFrom((await this.c.api.podGet(pod, path, POD_CALL_MS)) as RecorderExport);
      known.syncedSecond = nowS;
      this.pods.set(pod, known);
    } catch (error) {
      this.c.log?.({
        level: 'warn',
        msg: 'reading gateway pod metrics',
        env: this.c.env,
        pod,
        error: String(error),
      });
    }
  }

  private now(): number {
    return (this.c.now ?? Date.now)();
  }
}
