/**
 * The control plane's handle on one environment's gateway process: a `Gateway` whose data plane
 * runs in a process of its own. `listen()` adopts the gateway a previous control plane left
 * running (its pid file names it, its command line and `hello` prove it is this workspace's, its
 * config hash says it serves the same routes) or starts one; while the control plane runs it
 * restarts a gateway that died at once, from the state that gateway persisted, and pushes the
 * latest pools again. Metrics are mirrored every `SYNC_MS` so `metrics()` stays synchronous.
 */
import { rmSync } from 'node:fs';
import type { GatewayIdentity } from '../backend-tls.js';
import { validatePools } from '../service-pools.js';
import type { Gateway, GatewayConfig, GatewayRoute, Pool, WindowMetrics } from '../types.js';
import { MetricsRecorder, type MetricsSnapshot, type RecorderExport } from '../window-metrics.js';
import { ControlClient } from './control-client.js';
import { launchGateway, waitGone } from './gateway-launch.js';
import { configHash, PROTOCOL_VERSION, toWire, type WireConfig } from './protocol.js';
import {
  type GatewayFiles,
  gatewayFiles,
  isGatewayProcess,
  readPidFile,
  readStateFile,
  writeStateFile,
} from './state-file.js';

const SYNC_MS = 500;
const RESTARTS_PER_MINUTE = 5;
const RETRY_MS = 1_000;
const HELLO_TIMEOUT_MS = 3_000;
const DEFAULT_DRAIN_MS = 30_000;
/** A HAProxy reload checks the config and hands its sockets over: seconds on a busy machine. */
const ROUTES_TIMEOUT_MS = 30_000;

export interface SupervisedGatewayOptions {
  env: string;
  /** The workspace root (the gateway proves it belongs to it). */
  root: string;
  /** Folder of the state, pid and socket files (`.cairn/run`). */
  runDir: string;
  logsDir: string;
  config: Omit<GatewayConfig, 'accessLog' | 'now'>;
  /** The JSON access log the gateway appends to. */
  accessLogFile?: string;
  /** Puts a gateway process where isolated instances accept connections from (the gateway cgroup). */
  admit?: (pid: number) => Promise<void>;
  log?: (line: Record<string, unknown>) => void;
  /** The entry point to run (tests and benchmarks point at the built one). */
  mainScript?: string;
}

export class SupervisedGateway implements Gateway {
  readonly kind: string;
  /** `adopted`: a running gateway was taken over; `started`: a new process was started. */
  startedHow: 'adopted' | 'started' | undefined;
  /** Adopted with other routes than it served, which were then applied in place. */
  routesApplied = false;
  private readonly files: GatewayFiles;
  private wire: WireConfig;
  private readonly mirror = new MetricsRecorder();
  private readonly pools = new Map<string, Pool[]>();
  private identity: GatewayIdentity | undefined;
  private client: ControlClient | undefined;
  private pidNow: number | undefined;
  private address = '';
  private ready: Promise<void> = Promise.resolve();
  private closing = false;
  private restarts: number[] = [];
  private syncTimer: NodeJS.Timeout | undefined;
  private syncedSecond = 0;

  constructor(private options: SupervisedGatewayOptions) {
    this.kind = options.config.engine ?? 'builtin';
    this.files = gatewayFiles(options.runDir, options.logsDir, options.env);
    this.wire = toWire(options.config, options.accessLogFile);
  }

  /** Process id of the gateway now. */
  get pid(): number | undefined {
    return this.pidNow;
  }

  async listen(): Promise<string> {
    if (await this.adopt()) this.startedHow = 'adopted';
    else {
      this.writeFreshState();
      await this.spawn();
      this.startedHow = 'started';
    }
    await this.sync().catch(() => undefined);
    this.syncTimer = setInterval(() => void this.sync().catch(() => undefined), SYNC_MS);
    this.syncTimer.unref();
    return this.address;
  }

  async setPools(service: string, pools: Pool[]): Promise<void> {
    validatePools(service, pools);
    this.pools.set(service, pools);
    await this.ready;
    const client = this.client;
    try {
      await client?.call('setPools', { service, pools });
    } catch (error) {
      // Lost on the way: the gateway that takes over gets the latest pools when it starts.
      if (this.client === client && client !== undefined) throw error;
      await this.ready;
    }
  }

  /** The gateway's client SVID; a gateway process that takes over gets it before its pools. */
  async setIdentity(identity: GatewayIdentity): Promise<void> {
    this.identity = identity;
    await this.ready;
    const client = this.client;
    try {
      await client?.call('setIdentity', identity);
    } catch (error) {
      if (this.client === client && client !== undefined) throw error;
      await this.ready;
    }
  }

  /**
   * New routes on the running gateway process, without a restart: the listener stays open, the
   * process persists them, and a later `cairn up` with the same spec adopts it as it is.
   */
  async setRoutes(routes: GatewayRoute[]): Promise<void> {
    const wire = toWire({ ...this.options.config, routes }, this.options.accessLogFile);
    await this.ready;
    if (!this.client) throw new Error(`changing the ${this.options.env} gateway's routes: it is not running`);
    await this.client.call('setRoutes', { routes: wire.routes }, ROUTES_TIMEOUT_MS);
    this.wire = wire;
    this.options.config = { ...this.options.config, routes };
    const routed = new Set(routes.map((r) => r.service));
    for (const service of this.pools.keys()) if (!routed.has(service)) this.pools.delete(service);
  }

  /** The config the gateway serves now (its routes change with `setRoutes`). */
  get served(): Omit<GatewayConfig, 'accessLog' | 'now'> {
    return this.options.config;
  }

  async drain(endpointId: string, timeoutMs = DEFAULT_DRAIN_MS): Promise<void> {
    await this.ready;
    await this.client?.call('drain', { endpointId, timeoutMs }, timeoutMs + 5_000).catch(() => undefined);
  }

  metrics(service: string, release: string, windowMs: number): WindowMetrics {
    return this.mirror.query(service, release, windowMs, Date.now());
  }

  snapshot(): MetricsSnapshot {
    return this.mirror.snapshot();
  }

  exportMetrics(sinceSecond: number): RecorderExport {
    return this.mirror.exportSince(sinceSecond);
  }

  /** Stops the gateway process (in-flight requests get `graceMs`) and removes its files. */
  async close(graceMs = 10_000): Promise<void> {
    this.stopSupervising();
    const { client, pidNow: pid } = this;
    if (client) await client.call('stop', { graceMs }, HELLO_TIMEOUT_MS).catch(() => undefined);
    else if (pid && isGatewayProcess(pid, this.files.state)) process.kill(pid, 'SIGTERM');
    if (pid) await waitGone(pid, graceMs + 3_000);
    client?.close();
    for (const f of [this.files.state, this.files.pid, this.files.socket]) rmSync(f, { force: true });
  }

  /** Lets go of the gateway without stopping it: it keeps serving until a control plane adopts it. */
  detach(): void {
    this.stopSupervising();
    this.client?.close();
  }

  private stopSupervising(): void {
    this.closing = true;
    clearInterval(this.syncTimer);
  }

  /** Takes over the gateway a previous control plane left, when it is ours and serves this config. */
  private async adopt(): Promise<boolean> {
    const found = readPidFile(this.files.pid);
    if (!found || !isGatewayProcess(found.pid, this.files.state)) return false;
    let client: ControlClient | undefined;
    try {
      client = await ControlClient.connect(this.files.socket);
      const hello = await client.call('hello', {}, HELLO_TIMEOUT_MS);
      const ours =
        hello.pid === found.pid && hello.root === this.options.root && hello.env === this.options.env;
      if (ours && hello.protocol === PROTOCOL_VERSION && hello.configHash === configHash(this.wire)) {
        await this.attach(client, found.pid);
        this.address = hello.address;
        return true;
      }
      if (ours && hello.protocol === PROTOCOL_VERSION && this.onlyRoutesDiffer()) {
        // The same listener with other routes: changed in place, the port never closes.
        await client.call('setRoutes', { routes: this.wire.routes }, ROUTES_TIMEOUT_MS);
        await this.attach(client, found.pid);
        this.address = hello.address;
        this.routesApplied = true;
        return true;
      }
      this.options.log?.({
        msg: 'gateway config changed: replacing the gateway process',
        env: this.options.env,
      });
      await client.call('stop', { graceMs: 5_000 }, HELLO_TIMEOUT_MS).catch(() => undefined);
    } catch {
      // Ours by its command line but not answering: it cannot be steered, so it goes.
    }
    client?.close();
    await waitGone(found.pid, 8_000);
    return false;
  }

  /** Whether the running gateway's persisted config differs from this one in its routes alone. */
  private onlyRoutesDiffer(): boolean {
    const running = readStateFile(this.files.state);
    if (!running || running.env !== this.options.env) return false;
    return configHash({ ...running.config, routes: [] }) === configHash({ ...this.wire, routes: [] });
  }

  /** A new state file with this config; the pools of the last one stay for the services it routes. */
  private writeFreshState(): void {
    const last = readStateFile(this.files.state);
    const routed = new Set(this.wire.routes.map((r) => r.service));
    const pools = Object.fromEntries(
      Object.entries(last?.env === this.options.env ? last.pools : {}).filter(([s]) => routed.has(s)),
    );
    writeStateFile(this.files.state, {
      protocol: PROTOCOL_VERSION,
      root: this.options.root,
      env: this.options.env,
      config: this.wire,
      pools,
    });
  }

  private async spawn(): Promise<void> {
    const { pid, address } = await launchGateway(this.files, this.options.env, this.options.mainScript);
    this.address = address;
    await this.attach(await ControlClient.connect(this.files.socket), pid);
  }

  private async attach(client: ControlClient, pid: number): Promise<void> {
    this.client = client;
    this.pidNow = pid;
    client.onClose(() => this.lost(client));
    await this.options.admit?.(pid);
  }

  private lost(client: ControlClient): void {
    if (this.closing || this.client !== client) return;
    this.client = undefined;
    this.ready = this.recover();
  }

  /** The gateway went away: reconnect if it still runs, otherwise start it again with its last state. */
  private async recover(): Promise<void> {
    while (!this.closing) {
      if (await this.adopt()) return this.pushPools();
      const now = Date.now();
      this.restarts = this.restarts.filter((t) => now - t < 60_000);
      if (this.restarts.length >= RESTARTS_PER_MINUTE) {
        await new Promise((r) => setTimeout(r, 60_000 - (now - this.restarts[0]!)));
        continue;
      }
      this.restarts.push(now);
      try {
        await this.spawn();
        this.options.log?.({ msg: 'gateway process restarted', env: this.options.env, pid: this.pidNow });
        return this.pushPools();
      } catch (error) {
        this.options.log?.({
          level: 'error',
          msg: 'restarting the gateway',
          error: (error as Error).message,
        });
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  private async pushPools(): Promise<void> {
    if (this.identity) await this.client?.call('setIdentity', this.identity).catch(() => undefined);
    for (const [service, pools] of this.pools)
      await this.client?.call('setPools', { service, pools }).catch(() => undefined);
  }

  private async sync(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const nowSecond = Math.floor(Date.now() / 1000);
    this.mirror.importFrom(await client.call('metrics', { sinceSecond: this.syncedSecond - 1 }, 5_000));
    this.syncedSecond = nowSecond;
  }
}
