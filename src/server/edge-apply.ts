/**
 * `cairn apply`: takes cairn.yaml's edge — routes, their policies, environments' gateways — into
 * the running gateways without a restart. The plan is computed against what the gateways serve
 * now; nothing is applied while any change is refused; every applied plan is one audit entry
 * (`edge.applied`, with the changes and never a key). Routes change in place: the listeners stay
 * open and in-flight requests finish on the routes they started on.
 */
import type { AuditEvent } from '../audit/index.js';
import {
  fromWire,
  type GatewayConfig,
  type GatewayRoute,
  loadGatewayRoutes,
  type SecretResolver,
  type SupervisedGateway,
  toWire,
  type WireConfig,
} from '../gateway/index.js';
import { ConflictError } from '../lib/index.js';
import { type LoadedSpec, loadSpec } from '../spec/index.js';
import type { SqliteStateStore } from '../state/index.js';
import { type EdgePlan, type EdgeView, planEdge, routeView } from './edge-plan.js';

export interface EdgeDeps {
  specFile: string;
  gateways: Map<string, SupervisedGateway>;
  store: SqliteStateStore;
  audit: { record(event: AuditEvent): unknown };
  resolveSecret: SecretResolver;
  /** Opens (adopts or starts) the gateway of an environment of the spec and listens. */
  openGateway: (loaded: LoadedSpec, env: string) => Promise<SupervisedGateway>;
  /** Pushes the pools of a service that now has a route. */
  applyPools: (env: string, service: string) => Promise<void>;
  /** The gateways that run in a cluster (`kubernetes.gatewayNamespace`): their routes change by one write. */
  clusterGateways?: Map<string, ClusterRoutes>;
}

/** What `cairn apply` needs of a gateway in a cluster. */
export interface ClusterRoutes {
  readonly served: WireConfig;
  setRoutes(routes: WireConfig['routes']): Promise<void>;
}

export interface Applied extends EdgePlan {
  applied: boolean;
}

export class EdgeApplier {
  constructor(private readonly deps: EdgeDeps) {}

  /** What `apply` would change now. */
  async plan(): Promise<EdgePlan> {
    return (await this.compute()).plan;
  }

  /** Applies the plan (all of it, or nothing when a change is refused) and audits it. */
  async apply(actor: string): Promise<Applied> {
    const { plan, loaded, routes } = await this.compute();
    if (plan.refusals.length > 0) {
      const [first] = plan.refusals;
      throw new ConflictError(`applying cairn.yaml's edge: ${first!.message}`, { hint: first!.hint });
    }
    if (plan.changes.length === 0) return { ...plan, applied: false };
    const envs = new Set(plan.changes.map((c) => c.env));
    for (const env of envs) await this.applyEnv(loaded, routes, env, plan);
    this.deps.store.transaction(() =>
      this.deps.audit.record({
        actor,
        action: 'edge.applied',
        subject: {},
        reason: `${plan.changes.length} edge change(s)`,
        detail: { changes: plan.changes },
      }),
    );
    return { ...plan, applied: true };
  }

  /** `routes`: the ones the plan was made from (the same in every environment), applied as planned. */
  private async applyEnv(
    loaded: LoadedSpec,
    routes: GatewayRoute[],
    env: string,
    plan: EdgePlan,
  ): Promise<void> {
    const inCluster = this.deps.clusterGateways?.get(env);
    if (inCluster) {
      await inCluster.setRoutes(toWire({ listen: inCluster.served.listen, routes }, undefined).routes);
      for (const serving of this.deps.store.listServing(env))
        await this.deps.applyPools(env, serving.service);
      return;
    }
    const gateway = this.deps.gateways.get(env);
    if (plan.changes.some((c) => c.env === env && c.what === 'gateway' && c.action === 'destroy')) {
      await gateway?.close(10_000);
      this.deps.gateways.delete(env);
      return;
    }
    if (!gateway) {
      this.deps.gateways.set(env, await this.deps.openGateway(loaded, env));
    } else {
      await gateway.setRoutes(routes);
    }
    for (const serving of this.deps.store.listServing(env)) await this.deps.applyPools(env, serving.service);
  }

  private async compute(): Promise<{ plan: EdgePlan; loaded: LoadedSpec; routes: GatewayRoute[] }> {
    const loaded = loadSpec(this.deps.specFile);
    // Every environment's gateway serves the same routes: their keys are read once.
    const routes = await loadGatewayRoutes(loaded.spec.routes, loaded, this.deps.resolveSecret);
    const wanted = routes.map(routeView);
    const running: Record<string, EdgeView> = {};
    const served: ReadonlyArray<readonly [string, Omit<GatewayConfig, 'accessLog' | 'now'>]> = [
      ...[...this.deps.gateways].map(([env, g]) => [env, g.served] as const),
      ...[...(this.deps.clusterGateways ?? [])].map(([env, g]) => [env, fromWire(g.served)] as const),
    ];
    for (const [env, config] of served) {
      const { listen, engine = 'builtin', pinHeader = true, routes } = config;
      running[env] = { listen, engine, pinHeader, routes: routes.map(routeView) };
    }
    const desired: Record<string, EdgeView> = {};
    const refusals: EdgePlan['refusals'] = [];
    for (const [env, e] of Object.entries(loaded.spec.environments)) {
      // Its gateway runs in the cluster, opened by `cairn up`: only its routes change here.
      if (e.kubernetes?.gatewayNamespace && !this.deps.clusterGateways?.has(env)) {
        refusals.push({
          env,
          message: `environment ${env}'s gateway moved into the cluster (kubernetes.gatewayNamespace) since cairn up started`,
          hint: 'restart the control plane to take it (`cairn down --keep-instances`, then `cairn up --detach`)',
        });
        continue;
      }
      desired[env] = {
        listen: e.gateway.listen,
        engine: e.gateway.engine,
        pinHeader: e.gateway.pinHeader,
        routes: wanted,
      };
    }
    const busy = (env: string) => this.deps.store.listInstances({ env, live: true }).length > 0;
    const plan = planEdge(running, desired, busy);
    return { plan: { ...plan, refusals: [...refusals, ...plan.refusals] }, loaded, routes };
  }
}
