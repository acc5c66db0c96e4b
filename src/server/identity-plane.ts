/**
 * Workload identity in the control plane, when the spec sets `identity:`: SVIDs for instances
 * (InstanceIdentity) and the identity hop where they call each other (IdentityHop), wired to the
 * state store, the audit log and the drift loop. The hop's own certificate is renewed with the SVIDs.
 */
import type { AuditEvent } from '../audit/index.js';
import type { GatewayIdentity } from '../gateway/index.js';
import {
  type CallerRecord,
  type IdentityConfig,
  identityConfig,
  issueGatewayCertificate,
  issueHopCertificate,
  loadWorkloadCa,
  spiffeIdOf,
  type VerifiedSvid,
} from '../identity/index.js';
import type { RuntimeConfig } from '../runtime/index.js';
import type { RunSpec, Spec } from '../spec/index.js';
import type { InstanceRecord, SqliteStateStore } from '../state/index.js';
import type { ProbeTls } from './health-probe.js';
import { type HopTarget, IdentityHop } from './identity-hop.js';
import { InstanceIdentity } from './instance-identity.js';

/**
 * The hop's own certificate lives a day (or an SVID's lifetime, if longer), renewed at half-life:
 * its key never leaves `cairn up`'s memory, and a short-lived one would only add ways to fail.
 */
const HOP_CERT_MIN_TTL_MS = 24 * 3_600_000;
/** Instance states whose SVID the hop still honours. */
const LIVE_STATES = new Set(['starting', 'healthy', 'unhealthy', 'draining']);

export interface IdentityPlaneDeps {
  keysDir: string;
  runtime: Pick<RuntimeConfig, 'runtimeDir'>;
  store: SqliteStateStore;
  record: (event: AuditEvent) => void;
  isDrifted: (id: string) => boolean;
  /** Hands an environment's gateway its (renewed) client SVID. */
  toGateway?: (env: string, identity: GatewayIdentity) => Promise<void>;
}

export class IdentityPlane {
  private hopRenewAt = 0;
  /** Each environment's gateway client SVID (`run.tls`), and when it is renewed. */
  private readonly gateways = new Map<string, { identity: GatewayIdentity; renewAt: number }>();

  private constructor(
    readonly identity: InstanceIdentity,
    private readonly hop: IdentityHop,
    private readonly hopTtlMs: number,
    private readonly config: IdentityConfig,
    private readonly deps: IdentityPlaneDeps,
  ) {}

  /**
   * Issues an environment's gateway its client SVID (an SVID's lifetime; `renewGateways` renews it at
   * half-life and hands it over); the gateway presents it to instances that serve TLS (`run.tls`).
   */
  async openGateway(env: string): Promise<GatewayIdentity> {
    const { ca, trustDomain } = this.identity.issuerOfHop();
    const ttl = this.config.svidTtlMs;
    const svid = await issueGatewayCertificate(ca, trustDomain, env, ttl);
    const { spiffeId, certPem, keyPem } = svid;
    const identity = { spiffeId, certPem, keyPem, bundlePem: ca.bundlePem };
    this.gateways.set(env, { identity, renewAt: Date.now() + ttl / 2 });
    return identity;
  }

  /** How the gateway of `env` (and the health probe) connects to a `run.tls` instance of `service`. */
  backendTls(env: string, service: string): ProbeTls | undefined {
    const gateway = this.gateways.get(env);
    if (!gateway) return undefined;
    return { spiffeId: spiffeIdOf(this.config.trustDomain, env, service), client: gateway.identity };
  }

  /** Loads the CA (a missing one is an error, never a new CA) and opens the hop; undefined when identity is off. */
  static async open(spec: Spec, deps: IdentityPlaneDeps): Promise<IdentityPlane | undefined> {
    if (!spec.identity) return undefined;
    const ca = await loadWorkloadCa(deps.keysDir);
    const config = identityConfig(spec.project, spec.identity);
    const identity = new InstanceIdentity({
      ca,
      config,
      runtime: deps.runtime,
      record: deps.record,
      isDrifted: deps.isDrifted,
    });
    const servesTls = releaseServesTls(deps.store);
    const hopTtlMs = Math.max(config.svidTtlMs, HOP_CERT_MIN_TTL_MS);
    const cert = await issueHopCertificate(ca, config.trustDomain, hopTtlMs);
    const hop = new IdentityHop({
      trustDomain: config.trustDomain,
      bundlePem: ca.bundlePem,
      cert,
      caller: (svid) => callerRecord(deps.store, svid, deps.isDrifted),
      endpoints: (env, service) =>
        hopTargets(
          deps.store.listInstances({ env, service, live: true }),
          servesTls,
          spiffeIdOf(config.trustDomain, env, service),
        ),
      record: deps.record,
    });
    await hop.listen(config.hopPort);
    const plane = new IdentityPlane(identity, hop, hopTtlMs, config, deps);
    plane.hopRenewAt = Date.now() + hopTtlMs / 2;
    return plane;
  }

  /** Renews what is past half-life: instances' SVIDs and the hop's certificate. */
  async renewDue(): Promise<void> {
    try {
      await this.identity.renewDue(this.deps.store.listInstances({ live: true }));
    } finally {
      await this.renewHop();
    }
  }

  /**
   * Renews the gateways' SVIDs past half-life and hands them over. A loop of its own: a slow
   * gateway must not hold back instances' renewals. A failure is thrown (and logged by the
   * caller's loop); the next check tries again.
   */
  async renewGateways(): Promise<void> {
    for (const [env, { renewAt }] of this.gateways)
      if (Date.now() >= renewAt) await this.deps.toGateway?.(env, await this.openGateway(env));
  }

  private async renewHop(): Promise<void> {
    if (Date.now() < this.hopRenewAt) return;
    this.hopRenewAt = Date.now() + this.hopTtlMs / 2;
    const { ca, trustDomain } = this.identity.issuerOfHop();
    this.hop.renew(await issueHopCertificate(ca, trustDomain, this.hopTtlMs));
  }

  close(): Promise<void> {
    return this.hop.close();
  }
}

/** What the hop needs to know of the instance an SVID names. */
function callerRecord(
  store: SqliteStateStore,
  svid: VerifiedSvid,
  isDrifted: (id: string) => boolean,
): CallerRecord | undefined {
  const instance = svid.instance ? store.getInstance(svid.instance) : undefined;
  if (!instance) return undefined;
  const run = store.getRelease(instance.releaseId)?.config.run as RunSpec | undefined;
  const drifted = isDrifted(instance.id);
  return {
    service: instance.service,
    env: instance.env,
    release: instance.releaseId,
    live: LIVE_STATES.has(instance.state) && !drifted,
    state: drifted ? 'drifted' : instance.state,
    allow: run?.network?.allow ?? [],
  };
}

/** Where the hop may forward: healthy instances, with the ID to check for those serving TLS (`run.tls`). */
function hopTargets(
  instances: InstanceRecord[],
  servesTls: (release: string) => boolean,
  spiffeId: string,
): HopTarget[] {
  return instances
    .filter((i) => i.state === 'healthy' && i.endpoint)
    .map((i) => (servesTls(i.releaseId) ? { address: i.endpoint!, spiffeId } : i.endpoint!));
}

/** Whether a release serves TLS; releases never change, so each is read from the store once. */
function releaseServesTls(store: SqliteStateStore): (release: string) => boolean {
  const known = new Map<string, boolean>();
  return (release) => {
    let tls = known.get(release);
    if (tls === undefined) {
      tls = (store.getRelease(release)?.config.run as RunSpec | undefined)?.tls === true;
      known.set(release, tls);
    }
    return tls;
  };
}
