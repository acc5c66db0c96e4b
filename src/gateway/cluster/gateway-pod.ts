/**
 * The running gateway pod: each new version of the ConfigMap is parsed, checked and applied to the
 * built-in gateway between requests; the data plane starts listening once the first version is
 * applied. A bad version is logged and the last good one keeps serving.
 */
import { createBuiltinGateway } from '../builtin-gateway.js';
import { fromWire } from '../process/protocol.js';
import type { InflightGateway } from '../types.js';
import type { MetricsSnapshot, RecorderExport } from '../window-metrics.js';
import type { AdminView } from './admin-server.js';
import { appliedDocument, planApply } from './apply-plan.js';
import { type ConfigMapLike, documentOf, type GatewayDocument } from './gateway-document.js';

export interface GatewayPodOptions {
  /** host:port of the data plane. */
  listen: string;
  log(fields: Record<string, unknown>): void;
  /** Called when the data plane could not start listening (the pod should exit). */
  onListenFailed(error: Error): void;
}

export class GatewayPod implements AdminView {
  private gateway: InflightGateway | undefined;
  private applied: GatewayDocument | undefined;
  private listening = false;
  private stopping = false;
  /** Versions are applied one after the other, in the order they arrive. */
  private queue: Promise<void> = Promise.resolve();
  /** A version failed half-way: the next one is applied whole, not as a difference. */
  private partial = false;

  constructor(private readonly opts: GatewayPodOptions) {}

  /** Queues one version of the ConfigMap; resolves once it is applied (or refused). */
  offer(configMap: ConfigMapLike, resourceVersion: string): Promise<void> {
    this.queue = this.queue
      .then(() => this.apply(configMap, resourceVersion))
      .catch((error: Error) => {
        this.partial = true;
        this.opts.log({
          level: 'error',
          msg: 'applying a gateway config version failed; the next version is applied whole',
          resourceVersion,
          error: error.message,
        });
      });
    return this.queue;
  }

  private async apply(configMap: ConfigMapLike, resourceVersion: string): Promise<void> {
    if (this.stopping) return;
    let next: GatewayDocument;
    try {
      next = documentOf(configMap);
    } catch (error) {
      this.opts.log({
        level: 'error',
        msg: 'refused a gateway config version; the last good one keeps serving',
        resourceVersion,
        servingVersion: this.applied?.version ?? null,
        error: (error as Error).message,
      });
      return;
    }
    if (this.gateway) await this.update(this.gateway, next);
    else await this.first(next);
  }

  private async first(doc: GatewayDocument): Promise<void> {
    const gateway = createBuiltinGateway({ ...fromWire(doc.config), listen: this.opts.listen });
    for (const { service, pools } of planApply(undefined, doc).pools) gateway.setPools(service, pools);
    this.gateway = gateway;
    this.applied = appliedDocument(undefined, doc);
    try {
      const address = await gateway.listen();
      this.listening = true;
      this.opts.log({ msg: 'gateway pod serving', address, version: doc.version });
    } catch (error) {
      this.opts.onListenFailed(error as Error);
    }
  }

  private async update(gateway: InflightGateway, next: GatewayDocument): Promise<void> {
    const plan = planApply(this.partial ? undefined : this.applied, next);
    plan.restartNeeded = planApply(this.applied, next).restartNeeded;
    // setRoutes makes no change when it fails, and nothing but microtasks runs between these
    // calls: requests see the old version or the new one.
    if (plan.routes) await gateway.setRoutes(fromWire({ ...next.config, routes: plan.routes }).routes);
    for (const { service, pools } of plan.pools) gateway.setPools(service, pools);
    this.partial = false;
    const previous = this.applied?.version;
    this.applied = appliedDocument(this.applied, next);
    if (plan.restartNeeded.length > 0)
      this.opts.log({
        level: 'warn',
        msg: 'listener settings changed; they take effect when the pod restarts',
        settings: plan.restartNeeded,
        version: next.version,
      });
    if (!plan.unchanged)
      this.opts.log({
        msg: 'applied gateway config',
        version: next.version,
        previous,
        services: plan.pools.map((p) => p.service),
        removed: plan.removed,
        routes: plan.routes !== undefined,
      });
  }

  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), closes. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await this.queue;
    if (this.gateway) await this.gateway.close(graceMs).catch(() => undefined);
  }

  ready(): boolean {
    return this.listening && !this.stopping;
  }

  version(): number | null {
    return this.applied?.version ?? null;
  }

  inflight(): Record<string, number> {
    return this.gateway?.inflight() ?? {};
  }

  exportMetrics(sinceSecond: number): RecorderExport {
    return this.gateway ? this.gateway.exportMetrics(sinceSecond) : { slots: [], totals: [] };
  }

  snapshot(): MetricsSnapshot {
    return this.gateway ? this.gateway.snapshot() : { series: [] };
  }
}
