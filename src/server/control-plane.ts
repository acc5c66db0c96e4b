/**
 * `cairn up`: one process holding the state store, the audit log, the gateways (one per
 * environment), the reconciler and the rollout controller, and the token-protected HTTP API.
 * Killing it loses nothing: on start it re-adopts running instances, stops strays, and carries on
 * with every rollout from the state it last persisted.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openImageStore } from '../artifact/index.js';
import { type AuditLog, openAuditLog } from '../audit/index.js';
import { AuthFailures, type SessionLimits, SessionStore, TokenStore } from '../auth/index.js';
import { type DriftEnvStatus, DriftLoop, type DriftReport, describeReason } from '../drift/index.js';
import { gatherEvidence } from '../gates/index.js';
import {
  gatewayConfigFor,
  renderPrometheus,
  SupervisedGateway,
  type TrafficRouter,
  toWire,
} from '../gateway/index.js';
import { buildGatewayImage, ClusterGateway, KUBERNETES_DRIVER } from '../kubernetes/index.js';
import { ConflictError, DiskWatch, NotFoundError } from '../lib/index.js';
import { type ReleaseObservation, RolloutController } from '../rollout/index.js';
import {
  createRuntimeDriver,
  HostNetwork,
  hostNetworkSupport,
  type RuntimeKind,
  runtimeConfigFor,
  sweepBundleTemps,
  sweepPrivateDirs,
} from '../runtime/index.js';
import { openSecretResolver } from '../secrets/index.js';
import { type DriftSettings, loadSpec } from '../spec/index.js';
import { openStateStore, type SqliteStateStore, type Workspace } from '../state/index.js';
import { defaultSigningKeyFile, loadSigningKey } from '../trust/index.js';
import { defaultAssetsDir, loadAssets, UiServer } from '../ui/index.js';
import { VULN_DB_FILE } from '../vuln/index.js';
import { API_FILE } from './api-client.js';
import { registerRoutes } from './api-routes.js';
import { ApiServer } from './api-server.js';
import { Clusters } from './clusters.js';
import { CONFIG_FILES_DIR, ConfigFilePins } from './config-file-pins.js';
import { Deployments } from './deployments.js';
import { EdgeApplier } from './edge-apply.js';
import { routeView } from './edge-plan.js';
import { EventHub, type RolloutSample } from './event-hub.js';
import { IdentityPlane } from './identity-plane.js';
import { CONTROL_PLANE_ACTOR, InstanceManager } from './instance-manager.js';
import { prepareOffThread } from './prepare-worker.js';
import { PreviewTraffic } from './preview-traffic.js';
import { Reconciler } from './reconciler.js';
import { createSecretAccess, type SecretAccess } from './secret-access.js';
import { driftView, statusView } from './status.js';
import type { SvidView } from './views.js';

const TICK_MS = 200;
const SUPERVISE_MS = 250;
const CHECKPOINT_CHECK_MS = 1000;
const EVENTS_MS = 1000;
const DISK_CHECK_MS = 1000;
/** How often SVIDs are checked for half-life (the shortest lifetime allowed is 2 s). */
const IDENTITY_RENEW_CHECK_MS = 250;
const SAMPLE_WINDOW_MS = 3000;
/** Failed API authentications become one audit entry per client per this interval (and at stop). */
const AUTH_FAILURE_FLUSH_MS = 60_000;
const DEFAULT_DRIFT: DriftSettings = { mode: 'enforce', intervalMs: 60_000, fastPath: true };

export interface ControlPlaneOptions {
  specFile: string;
  workspace: Workspace;
  driver?: 'auto' | RuntimeKind;
  apiPort?: number;
  /** The dashboard's address; false: none. `explicit`: a busy port is an error, else another port is taken. */
  ui?: { host: string; port: number; explicit: boolean; tls?: { cert: Buffer; key: Buffer } } | false;
  /** Where the built dashboard is (default dist/web). */
  uiAssets?: string;
  sessionLimits?: SessionLimits;
  log?: (line: Record<string, unknown>) => void;
}

/** The dashboard's documented default address. */
export const DEFAULT_UI = { host: '127.0.0.1', port: 7070 };

export class ControlPlane {
  readonly store: SqliteStateStore;
  readonly audit: AuditLog;
  /** One gateway process per environment, adopted or started by `start`. */
  readonly gateways = new Map<string, SupervisedGateway>();
  /** The gateways that run in a cluster (environments with `kubernetes.gatewayNamespace`). */
  readonly clusterGateways = new Map<string, ClusterGateway>();
  readonly reconciler: Reconciler;
  /** `cairn apply`: the spec's routes and environments into the running gateways. */
  readonly edge: EdgeApplier;
  readonly controller: RolloutController;
  readonly deployments: Deployments;
  readonly api: ApiServer;
  readonly events: EventHub;
  readonly tokens: TokenStore;
  private readonly images: ReturnType<typeof openImageStore>;
  /** Key ids that signed each image (images never change, so this is read once per digest). */
  private readonly signerCache = new Map<string, string[]>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly instances: InstanceManager;
  private drift: DriftLoop | undefined;
  /** Workload identity, when the spec sets `identity:`. */
  private identity: IdentityPlane | undefined;
  /** Environments that live in a Kubernetes cluster (docs/kubernetes.md). */
  private readonly clusters = new Clusters();
  /** The gateway's routes of the spec `cairn up` started with, for blue/green preview requests. */
  private readonly previews = new PreviewTraffic(() => loadSpec(this.options.specFile).spec);
  private stopping: Promise<void> | undefined;
  private requestShutdown: (keepInstances: boolean) => void = () => {};
  /** Resolves when `cairn down` asked over the API; `cairn up` then calls `stop`. */
  readonly shutdownRequested = new Promise<boolean>((resolve) => {
    this.requestShutdown = resolve;
  });
  url = '';
  uiUrl = '';
  private ui: UiServer | undefined;
  /** Whether the workspace's disk is full (status, refused changes). */
  readonly disk: DiskWatch;
  private readonly secrets: SecretAccess;
  private readonly hostNetwork: HostNetwork | undefined;

  constructor(private readonly options: ControlPlaneOptions) {
    const ws = options.workspace;
    const log = options.log ?? (() => {});
    // quick_check once at start: a damaged state.db is named now, not met later as a failed rollout step.
    this.store = openStateStore(ws, [], { quickCheck: true });
    this.audit = openAuditLog(this.store, { keyDir: ws.keys });
    const images = openImageStore(ws.store);
    this.images = images;
    this.secrets = createSecretAccess(openSecretResolver(ws), ws.bundles);
    const configFiles = new ConfigFilePins(join(ws.root, CONFIG_FILES_DIR));
    const driver = createRuntimeDriver(options.driver ?? 'auto', {
      ...runtimeConfigFor(ws),
      isolateNetwork: true,
      warn: (m) => log({ msg: m }),
    });
    // The gateway (this process) is the only one that may reach isolated instances.
    this.hostNetwork =
      driver.kind === 'runc' && hostNetworkSupport().ok
        ? new HostNetwork(runtimeConfigFor(ws).runtimeDir)
        : undefined;
    this.instances = new InstanceManager({
      store: this.store,
      audit: this.audit,
      driver,
      images,
      offThread: { storeDir: ws.store, bundlesDir: ws.bundles },
      secrets: (release) => this.secrets.inject(release),
      configFiles: (release) =>
        configFiles.read(release.id, (release.config.run as { files?: Record<string, string> }).files ?? {}),
      admit: async (release, env) => void (await this.deployments.admit(release, env)),
      volumesDir: runtimeConfigFor(ws).volumesDir,
    });
    this.disk = new DiskWatch({
      path: ws.root,
      log,
      meanwhile: {
        full: 'traffic is still served (the gateway drops its access log) and changes are refused until space returns',
        recovered: 'changes are accepted again',
      },
    });
    this.reconciler = new Reconciler({
      store: this.store,
      instances: this.instances,
      router: (env) => this.routerOf(env),
      remote: (env) => this.clusters.get(env),
      log,
      onStartError: (error) => this.disk.report(error, 'starting an instance'),
      backendTls: (env, service) => this.identity?.backendTls(env, service),
      drainTimeoutMs: (_env, service) =>
        loadSpec(options.specFile).spec.services[service]?.deploy.drainTimeoutMs ?? 30_000,
    });
    this.controller = new RolloutController({
      store: this.store,
      audit: this.audit,
      now: Date.now,
      observe: (env, _service, releases, since) => this.observe(env, releases, since),
      metrics: (env, service, release, windowMs) => this.routerOf(env)?.metrics(service, release, windowMs),
      servingChanged: (env, service) => {
        void this.reconciler.applyPools(env, service);
        void this.reconciler.request(env, service);
      },
    });
    this.edge = new EdgeApplier({
      specFile: options.specFile,
      gateways: this.gateways,
      store: this.store,
      audit: this.audit,
      resolveSecret: (name) => this.secrets.value(name),
      openGateway: (loaded, env) => this.listenGateway(loaded, env),
      applyPools: (env, service) => this.reconciler.applyPools(env, service),
      clusterGateways: this.clusterGateways,
    });
    this.deployments = new Deployments({
      specFile: options.specFile,
      store: this.store,
      audit: this.audit,
      images,
      controller: this.controller,
      vulnDbFile: join(ws.root, VULN_DB_FILE),
      pinSecrets: (service, refs) => this.secrets.pin(service, refs),
      pinFiles: (files) => configFiles.pin(files),
      hasClusterGateway: (env) => this.clusterGateways.has(env),
      preflight: async (env, release, isKubernetes) => {
        await this.clusters.preflight(env, release, isKubernetes);
        // Its gateway in the cluster serves before the rollout starts (the first one pulls its image).
        await this.clusterGateways.get(env)?.open();
      },
      signingKey: () => {
        const file = defaultSigningKeyFile(options.specFile);
        return file ? loadSigningKey(file).key : undefined;
      },
    });
    this.tokens = new TokenStore(this.store.db);
    this.api = new ApiServer(readFileSync(ws.tokenFile, 'utf8').trim(), new AuthFailures(), (token) =>
      this.tokens.verify(token),
    );
    this.events = new EventHub({
      state: () => ({
        environments: this.environments,
        services: statusView(this.store),
        drift: driftView(this.store, this.driftStatus()),
        auditSize: this.audit.size(),
      }),
      sampleRollouts: (now) => this.sampleRollouts(now),
    });
    registerRoutes(this.api, this);
  }

  /** The environment's traffic router: its gateway in the cluster, else the gateway process of this machine. */
  routerOf(env: string): TrafficRouter | undefined {
    return this.clusterGateways.get(env) ?? this.gateways.get(env);
  }

  private observe(env: string, releases: string[], since: string) {
    const out: Record<string, ReleaseObservation> = {};
    for (const release of releases) {
      const live = this.store
        .listInstances({ env, releaseId: release, live: true })
        .filter((i) => i.state !== 'draining' && i.state !== 'quarantined');
      const permanent = this.reconciler.failures.permanent(env, release, since);
      const lastFailure = this.reconciler.lastFailure(env, release, since);
      out[release] = {
        live: live.length,
        healthy: live.filter((i) => i.state === 'healthy').length,
        failures: this.reconciler.failuresSince(env, release, since),
        ...(lastFailure ? { lastFailure } : {}),
        ...(permanent ? { permanent } : {}),
      };
    }
    return out;
  }

  /** Weights and gateway metrics of every release of every rollout in progress (or just ended). */
  private sampleRollouts(now: number): Map<string, RolloutSample> {
    const out = new Map<string, RolloutSample>();
    // Rollouts with work left (progressing, paused, keeping the old release warm), and the ones that
    // just ended, so the series shows where the traffic ended up.
    const unfinished = this.store.listDeployments({ unfinished: true });
    const ended = this.store.listDeployments({
      finishedSince: new Date(now - SAMPLE_WINDOW_MS + 1).toISOString(),
    });
    const recent = new Map([...unfinished, ...ended].map((d) => [d.id, d]));
    for (const d of recent.values()) {
      const gateway = this.routerOf(d.env);
      const releases: RolloutSample['releases'] = {};
      for (const { release, weight } of this.store.getServing(d.env, d.service)?.weights ?? []) {
        const m = gateway?.metrics(d.service, release, SAMPLE_WINDOW_MS);
        releases[release] = {
          weight,
          rps: m ? Math.round((m.requests * 10_000) / SAMPLE_WINDOW_MS) / 10 : 0,
          errorRate: m?.errorRate ?? 0,
          p99Ms: m?.p99Ms ?? 0,
        };
      }
      out.set(d.id, { t: now, step: d.step, phase: d.phase, releases });
    }
    return out;
  }

  /** One `api.auth_failed` entry per client with the count since the last flush. */
  private flushAuthFailures(): void {
    const tallies = this.api.authFailures.drain();
    if (tallies.length === 0) return;
    this.store.transaction(() => {
      for (const tally of tallies)
        this.audit.record({
          actor: 'anonymous',
          action: 'api.auth_failed',
          subject: {},
          detail: { ...tally },
        });
    });
  }

  /** Starts gateways and the API, re-adopts instances, and starts the loops. */
  async start(): Promise<string> {
    try {
      return await this.startAll();
    } catch (error) {
      // A start that fails (a busy port, a bad spec) leaves no firewall behind unless instances need it.
      if (this.store.listInstances({ live: true }).length === 0)
        await this.hostNetwork?.teardown().catch(() => {});
      throw error;
    }
  }

  private async startAll(): Promise<string> {
    await this.disk.check();
    // Bundles a killed process left half-unpacked; those of a live process are left alone.
    const swept = await sweepBundleTemps(this.options.workspace.bundles);
    if (swept.length > 0) this.options.log?.({ msg: 'removed half-unpacked bundles', names: swept });
    await this.hostNetwork?.admitThisProcess();
    await this.adopt();
    const loaded = loadSpec(this.options.specFile);
    await this.openIdentity(loaded.spec);
    this.clusters.open(loaded, {
      store: this.store,
      audit: this.audit,
      images: this.images,
      secrets: this.secrets,
      configFiles: new ConfigFilePins(join(this.options.workspace.root, CONFIG_FILES_DIR)),
      changed: (env, service) => void this.reconciler.applyPools(env, service),
      admit: (release, env) => this.deployments.admit(release, env),
      gatewayImage: (env) => this.gatewayImage(env),
      log: this.options.log ?? (() => {}),
    });
    await this.clusters.start();
    this.environments = Object.entries(loaded.spec.environments).map(([name, e]) => ({
      name,
      ...(e.after ? { after: e.after } : {}),
    }));
    for (const env of Object.keys(loaded.spec.environments)) {
      const inCluster = await this.openClusterGateway(loaded, env);
      if (inCluster) this.clusterGateways.set(env, inCluster);
      else this.gateways.set(env, await this.listenGateway(loaded, env));
    }
    await Promise.all(this.store.listServing().map((s) => this.reconciler.applyPools(s.env, s.service)));
    this.url = await this.api.listen(this.options.apiPort ?? 0);
    await this.startUi();
    const info = {
      url: this.url,
      ...(this.uiUrl ? { ui: this.uiUrl } : {}),
      pid: process.pid,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(join(this.options.workspace.root, API_FILE), `${JSON.stringify(info)}\n`, { mode: 0o600 });
    this.store.transaction(() =>
      this.audit.record({
        action: 'control-plane.start',
        subject: {},
        detail: { pid: process.pid, driver: this.instances.driverKind },
      }),
    );
    void this.reconciler.requestAll();
    this.drift = this.driftLoop(loaded.spec.environments);
    await this.drift.start();
    this.every(TICK_MS, () => this.previews.sync(this.controller.tickAll()));
    this.every(SUPERVISE_MS, () => this.reconciler.supervise());
    this.every(CHECKPOINT_CHECK_MS, () => this.audit.checkpointIfDue());
    this.every(EVENTS_MS, () => this.events.tick());
    this.every(AUTH_FAILURE_FLUSH_MS, () => this.flushAuthFailures());
    this.every(DISK_CHECK_MS, () => this.disk.check());
    if (this.identity) {
      const identity = this.identity;
      this.every(IDENTITY_RENEW_CHECK_MS, () => identity.renewDue());
      this.every(IDENTITY_RENEW_CHECK_MS, () => identity.renewGateways());
    }
    return this.url;
  }

  /** Every instance started from now on gets an SVID, when the spec asks for workload identity. */
  private async openIdentity(spec: ReturnType<typeof loadSpec>['spec']): Promise<void> {
    this.identity = await IdentityPlane.open(spec, {
      keysDir: this.options.workspace.keys,
      runtime: runtimeConfigFor(this.options.workspace),
      store: this.store,
      record: (e) => this.store.transaction(() => this.audit.record({ ...e, actor: CONTROL_PLANE_ACTOR })),
      isDrifted: (id) => this.drift?.isDrifted(id) ?? false,
      toGateway: async (env, identity) => this.gateways.get(env)?.setIdentity(identity),
    });
    if (this.identity) this.instances.useIdentity(this.identity.identity);
  }

  /**
   * The router of an environment whose gateway runs in the cluster (no gateway process here); its
   * objects are applied now in the background, or by the first write of pools or deploy.
   */
  private async openClusterGateway(
    loaded: ReturnType<typeof loadSpec>,
    env: string,
  ): Promise<ClusterGateway | undefined> {
    const keeper = this.clusters.get(env)?.gateway;
    const gatewayNamespace = loaded.spec.environments[env]?.kubernetes?.gatewayNamespace;
    if (!keeper || !gatewayNamespace) return undefined;
    const config = await gatewayConfigFor(loaded, env, { resolveSecret: (name) => this.secrets.value(name) });
    const log = this.options.log;
    const gateway = new ClusterGateway({
      env,
      gatewayNamespace,
      config: toWire(config, undefined),
      api: keeper.api(),
      ensure: () => keeper.ensure(),
      ...(log ? { log } : {}),
    });
    gateway.start();
    gateway
      .open()
      .catch((error: unknown) =>
        log?.({ level: 'warn', msg: 'opening the in-cluster gateway', env, error: String(error) }),
      );
    return gateway;
  }

  /** cairn's gateway image for the clusters, in the image store, signed with the workspace key. */
  private async gatewayImage(env: string): Promise<string> {
    const file = defaultSigningKeyFile(this.options.specFile);
    if (!file)
      throw new NotFoundError('building the in-cluster gateway image: the workspace has no signing key', {
        hint: 'run `cairn keygen`: the gateway image is signed with the workspace key, like every build',
      });
    const built = await buildGatewayImage({ store: this.images, key: loadSigningKey(file).key });
    // The gateway's pods pass the environment's door like a release's: its gates first.
    await this.deployments.admitGatewayImage(env, built.digest);
    return built.digest;
  }

  /** Opens an environment's gateway (adopting the running one) and waits until it listens. */
  private async listenGateway(loaded: ReturnType<typeof loadSpec>, env: string): Promise<SupervisedGateway> {
    const gateway = await this.openGateway(loaded, env);
    const startedAt = Date.now();
    try {
      await gateway.listen();
    } catch (error) {
      throw listenError(error, env, loaded.spec.environments[env]!.gateway.listen);
    }
    // Before any pool: a pool of a `run.tls` release needs the gateway's client SVID.
    if (this.identity) await gateway.setIdentity(await this.identity.openGateway(env));
    const ms = Date.now() - startedAt;
    this.options.log?.({ msg: `gateway ${gateway.startedHow}`, env, pid: gateway.pid, ms });
    if (gateway.routesApplied) {
      this.store.transaction(() =>
        this.audit.record({
          actor: CONTROL_PLANE_ACTOR,
          action: 'edge.applied',
          subject: { env },
          reason: 'cairn up: the routes of cairn.yaml, applied in place to the running gateway',
          detail: { routes: gateway.served.routes.map(routeView) },
        }),
      );
    }
    return gateway;
  }

  /**
   * The gateway of one environment runs in a process of its own, which outlives this one: a crash
   * of the control plane is never an outage (see docs/gateway.md, "The gateway process").
   */
  private async openGateway(loaded: ReturnType<typeof loadSpec>, env: string): Promise<SupervisedGateway> {
    const ws = this.options.workspace;
    const config = await gatewayConfigFor(loaded, env, {
      resolveSecret: (name) => this.secrets.value(name),
      stateDir: join(ws.root, 'gateway', env),
    });
    const network = this.hostNetwork;
    return new SupervisedGateway({
      env,
      root: ws.root,
      runDir: join(ws.root, 'run'),
      logsDir: ws.logs,
      config,
      accessLogFile: join(ws.logs, 'gateway-access.log'),
      ...(network && { admit: async (pid: number) => network.admitProcess(pid) }),
      ...(this.options.log && { log: this.options.log }),
    });
  }

  /** The dashboard: on the asked address; a busy default port falls back to any free one. */
  private async startUi(): Promise<void> {
    const wanted = this.options.ui ?? { ...DEFAULT_UI, explicit: false };
    if (wanted === false) return;
    const ui = new UiServer({
      api: this.api,
      sessions: new SessionStore(this.store.db, this.options.sessionLimits),
      assets: loadAssets(this.options.uiAssets ?? defaultAssetsDir()),
      login: (token) => this.api.principalForToken(token),
      audit: (e) => this.store.transaction(() => this.audit.record({ ...e, subject: {} })),
      ...(wanted.tls ? { tls: wanted.tls } : {}),
    });
    try {
      this.uiUrl = await ui.listen(wanted.host, wanted.port);
    } catch (error) {
      if (wanted.explicit || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE')
        throw listenError(error, undefined, `${wanted.host}:${wanted.port}`);
      this.options.log?.({
        msg: `dashboard: ${wanted.host}:${wanted.port} is in use (another workspace?), taking a free port instead`,
      });
      this.uiUrl = await ui.listen(wanted.host, 0);
    }
    this.ui = ui;
  }

  private driftLoop(envs: ReturnType<typeof loadSpec>['spec']['environments']): DriftLoop {
    const ws = this.options.workspace;
    const settings = Object.fromEntries(
      Object.entries(envs)
        .filter(([, e]) => !e.kubernetes)
        .map(([env, e]) => [env, e.drift ?? DEFAULT_DRIFT]),
    );
    return new DriftLoop({
      store: this.store,
      audit: this.audit,
      reconciler: this.reconciler,
      instances: this.instances,
      actor: CONTROL_PLANE_ACTOR,
      prepare: prepareOffThread,
      runtime: runtimeConfigFor(ws),
      dirs: {
        storeDir: ws.store,
        bundlesDir: ws.bundles,
        forensicsDir: join(ws.root, 'forensics'),
        workspaceRoot: ws.root,
      },
      settings,
      ...(this.options.log ? { log: this.options.log } : {}),
    });
  }

  /** Stops a quarantined instance once it has been inspected: the alert in `cairn status` ends. */
  async clearQuarantine(id: string): Promise<void> {
    const instance = this.store.getInstance(id);
    if (instance?.state !== 'quarantined') {
      throw new NotFoundError(`clearing quarantine: ${id} is not a quarantined instance`, {
        hint: '`cairn status` lists the quarantined instances',
      });
    }
    await this.instances.stop(instance, 5000, 'quarantine cleared: stopped after inspection');
  }

  /** Key ids of the signatures attached to an image (verified bundles; none when unsigned or unreadable). */
  async signersOf(digest: string): Promise<string[]> {
    const known = this.signerCache.get(digest);
    if (known) return known;
    const signers = await gatherEvidence(this.images, digest, [])
      .then((e) => [...new Set(e.signatures.map((x) => x.keyId).filter(Boolean))])
      .catch(() => []);
    this.signerCache.set(digest, signers);
    return signers;
  }

  /** Names of the forensics folders drift kept (instance id, then time). */
  /** The current SVID of an instance, when workload identity is on and this process issued or read it. */
  svidOf(id: string): SvidView | undefined {
    const svid = this.identity?.identity.current(id);
    return svid?.spiffeId
      ? { spiffeId: svid.spiffeId, serial: svid.serial, notAfter: svid.notAfter }
      : undefined;
  }

  forensicsFolders(): string[] {
    try {
      return readdirSync(join(this.options.workspace.root, 'forensics'));
    } catch {
      return [];
    }
  }

  /**
   * The report drift kept in a forensics folder (what changed, which files were copied). Only the
   * report: the copied files stay on the machine.
   */
  forensicsReport(name: string): Record<string, unknown> {
    if (!this.forensicsFolders().includes(name)) {
      throw new NotFoundError(`reading forensics ${name}: no such folder`, {
        hint: 'the instances page lists the folders drift kept',
      });
    }
    const kept = JSON.parse(
      readFileSync(join(this.options.workspace.root, 'forensics', name, 'report.json'), 'utf8'),
    ) as { at: string; report: DriftReport; copied: string[] };
    const v = kept.report.verdict;
    return {
      at: kept.at,
      instance: kept.report.instance,
      service: kept.report.service,
      env: kept.report.env,
      release: kept.report.release,
      status: v.status,
      findings: v.status === 'drifted' ? v.reasons.map(describeReason) : 'detail' in v ? [v.detail] : [],
      copied: kept.copied,
    };
  }

  /** The environments of the spec the control plane started with, with their predecessors. */
  environments: Array<{ name: string; after?: string }> = [];

  /** Each environment's drift mode and last check (empty before `start`). */
  driftStatus(): DriftEnvStatus[] {
    return this.drift?.statusView() ?? [];
  }

  /** Runs `fn` every `ms`, never two runs of it at once. */
  private every(ms: number, fn: () => unknown): void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      Promise.resolve()
        .then(fn)
        .catch((error: Error) => {
          // A full disk is said once (the disk watch), not once per tick.
          if (this.disk.report(error, 'a background task')) return;
          this.options.log?.({ msg: 'background task failed', error: error.message, stack: error.stack });
        })
        .finally(() => {
          running = false;
        });
    }, ms);
    this.timers.push(timer);
  }

  /** Called by the API's shutdown endpoint. */
  askToStop(keepInstances: boolean): void {
    this.requestShutdown(keepInstances);
  }

  /** Instances recorded as live: keep those still running, mark the others failed; stop strays. */
  private async adopt(): Promise<void> {
    const live = this.store.listInstances({ live: true });
    for (const instance of live) {
      // Pods are the cluster's: their records follow its watch, not this machine's driver.
      if (instance.driver === KUBERNETES_DRIVER) continue;
      if (instance.state === 'draining' || !(await this.instances.isRunning(instance))) {
        await this.instances
          .stop(instance, 1000, 'found not running (or mid-drain) when the control plane started', 'failed')
          .catch(() => {});
      }
    }
    const stillLive = new Set(this.store.listInstances({ live: true }).map((i) => i.id));
    const strays = await this.instances.stopOrphans(stillLive);
    if (strays.length)
      this.options.log?.({ msg: 'stopped instances unknown to the state store', instances: strays });
    // Secret files of instances that are gone (a crash between removing an instance and its folder).
    const swept = await sweepPrivateDirs(runtimeConfigFor(this.options.workspace));
    if (swept.length)
      this.options.log?.({ msg: 'removed private folders of gone instances', instances: swept });
  }

  /** Stops the loops, the API and the gateways; stops every instance unless told to keep them. */
  stop(keepInstances = false): Promise<void> {
    this.stopping ??= this.shutdown(keepInstances);
    return this.stopping;
  }

  private async shutdown(keepInstances: boolean): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const g of this.clusterGateways.values()) g.stop();
    this.previews.close();
    await this.identity?.close();
    await this.drift?.stop();
    this.events.close();
    await this.ui?.close();
    await this.api.close();
    this.unlessDiskFull('recording failed authentications', () => this.flushAuthFailures());
    await this.reconciler.idle();
    await this.clusters.stop();
    if (!keepInstances) {
      // A cluster keeps running its pods: `cairn down` stops what runs on this machine.
      const live = this.store.listInstances({ live: true }).filter((i) => i.driver !== KUBERNETES_DRIVER);
      await Promise.all(live.map((i) => this.instances.stop(i, 5000, 'cairn down').catch(() => {})));
      await this.hostNetwork?.teardown().catch(() => {});
    }
    // Kept instances keep their data plane: the gateways serve on until the next `cairn up` adopts them.
    if (keepInstances) for (const g of this.gateways.values()) g.detach();
    else await Promise.all([...this.gateways.values()].map((g) => g.close(2000)));
    this.unlessDiskFull('recording the stop', () =>
      this.store.transaction(() =>
        this.audit.record({ action: 'control-plane.stop', subject: {}, detail: { keepInstances } }),
      ),
    );
    this.audit.close();
    this.store.close();
    rmSync(join(this.options.workspace.root, API_FILE), { force: true });
  }

  /** Runs `fn`; on a full disk (reported once) stopping still stops: the entry is lost, the state is not. */
  private unlessDiskFull(action: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      if (!this.disk.report(error, action)) throw error;
    }
  }

  metricsText(): string {
    return [...this.gateways.values(), ...this.clusterGateways.values()]
      .map((g) => renderPrometheus(g.snapshot()))
      .join('');
  }
}

/**
 * A gateway (or the dashboard) that cannot listen is the user's to fix: which one, which address,
 * who holds it. `env` is the environment, or undefined for the dashboard.
 */
export function listenError(error: unknown, env: string | undefined, listen: string): unknown {
  const code = bindErrorCode(error);
  if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') return error;
  const port = listen.slice(listen.lastIndexOf(':') + 1);
  const holder = code === 'EADDRINUSE' ? portHolder(port) : undefined;
  const why =
    code === 'EADDRINUSE'
      ? `it is already in use${holder ? ` by ${holder}` : ''}`
      : code === 'EACCES'
        ? 'this user may not listen there (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
        : 'no interface of this machine has that address';
  const fix = env
    ? `change environments.${env}.gateway.listen in cairn.yaml`
    : 'give another `--ui ADDRESS` (or `--ui off`)';
  return new ConflictError(`starting ${env ? `the ${env} gateway` : 'the dashboard'} on ${listen}: ${why}`, {
    hint:
      code === 'EADDRINUSE'
        ? `stop what listens there (another workspace's \`cairn up\`? \`cairn down\` in it), or ${fix}`
        : fix,
    cause: error,
  });
}

/** The errno of a failed bind: Node's own, or the one HAProxy reports in its output. */
function bindErrorCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') return code;
  const message = error instanceof Error ? error.message : '';
  if (/cannot bind socket \(Address already in use\)/.test(message)) return 'EADDRINUSE';
  if (/cannot bind socket \(Permission denied\)/.test(message)) return 'EACCES';
  if (/cannot bind socket \(Cannot assign requested address\)/.test(message)) return 'EADDRNOTAVAIL';
  return undefined;
}

/** Who listens on a TCP port, from \`ss\` (best effort: undefined when it cannot tell). */
function portHolder(port: string): string | undefined {
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2_000,
    });
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(out);
    return m ? `${m[1]} (pid ${m[2]})` : undefined;
  } catch {
    return undefined;
  }
}
