/**
 * The HAProxy engine of the gateway: the same `Gateway` as the built-in one, with HAProxy 2.6 as
 * the data plane. cairn writes the config, runs `haproxy` as a child process, moves releases and
 * endpoints through the runtime API, and reads every request back from HAProxy's log ring for
 * metrics and the access log.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DriverError, ValidationError } from '../../lib/index.js';
import { freePort, parseListen } from '../listen-address.js';
import { validatePools } from '../service-pools.js';
import type {
  AccessLogEntry,
  Gateway,
  GatewayConfig,
  GatewayLimits,
  GatewayRoute,
  Pool,
  WindowMetrics,
} from '../types.js';
import { MetricsRecorder, type MetricsSnapshot, type RecorderExport } from '../window-metrics.js';
import { mapPath, renderHaproxyConfig } from './config.js';
import { HaproxyProcess } from './haproxy-process.js';
import { HOP_BY_HOP_LUA, HOP_BY_HOP_SCRIPT } from './hop-by-hop.js';
import { type HaproxyFile, jwtRules } from './jwt-rules.js';
import { type LogRecord, LogSink } from './log-sink.js';
import { RuntimeApi } from './runtime-api.js';
import { parseShowStat } from './show-stat.js';
import { SlotTable } from './slots.js';

const REAP_EVERY_MS = 100;
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
const RESTARTS_PER_MINUTE = 5;

/** The JWT rules of every authenticated route, and the key files they read. */
function authOf(
  routes: GatewayConfig['routes'],
  dir: string,
): { rules: Map<number, string[]>; files: HaproxyFile[] } {
  const rules = new Map<number, string[]>();
  const files: HaproxyFile[] = [];
  routes.forEach((route, i) => {
    if (!route.auth) return;
    const r = jwtRules(i, route.auth, dir);
    rules.set(i, r.rules);
    files.push(...r.files);
  });
  return { rules, files };
}

/** `haproxy -c`: HAProxy's own verdict on a config before a running one is replaced by it. */
function checkConfig(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('haproxy', ['-c', '-q', '-f', file], (error, _stdout, stderr) => {
      if (!error) return resolve();
      reject(
        new DriverError(`checking the new haproxy config: ${String(stderr).trim().slice(-800)}`, {
          hint: 'the routes stay as they were; fix them in cairn.yaml',
        }),
      );
    });
  });
}

export class HaproxyGateway implements Gateway {
  readonly kind = 'haproxy';
  private readonly dir: string;
  private readonly ownsDir: boolean;
  private readonly bind: { host: string; port: number };
  private slots: SlotTable;
  /** The last pools of every service: a new slot table after a route change starts with them. */
  private readonly pools = new Map<string, Pool[]>();
  private readonly recorder = new MetricsRecorder();
  private readonly sink: LogSink;
  private readonly api: RuntimeApi;
  private readonly process: HaproxyProcess;
  private readonly now: () => number;
  private readonly limits: GatewayLimits;
  private auth: { rules: Map<number, string[]>; files: HaproxyFile[] };
  private port = 0;
  private logPort = 0;
  private applied: Promise<void> = Promise.resolve();
  private reaper: NodeJS.Timeout | undefined;
  private closing = false;
  /** Restarts start once HAProxy has listened once: a failed first start is the caller's error. */
  private listening = false;
  private restarts: number[] = [];

  constructor(
    private config: GatewayConfig,
    limits: GatewayLimits,
  ) {
    this.bind = parseListen(config.listen);
    this.limits = limits;
    this.ownsDir = !config.stateDir;
    this.dir = config.stateDir ?? mkdtempSync(join(tmpdir(), 'cairn-haproxy-'));
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    this.slots = this.slotTableFor(config.routes);
    this.sink = new LogSink((r) => this.onLog(r));
    this.api = new RuntimeApi(join(this.dir, 'admin.sock'));
    this.process = new HaproxyProcess(this.dir, this.api);
    this.now = config.now ?? Date.now;
    this.auth = authOf(config.routes, this.dir);
    this.renderConfig(); // fail now on routes HAProxy cannot express
  }

  /** Process id of the running HAProxy (benchmarks read its CPU time). */
  get pid(): number | undefined {
    return this.process.pid;
  }

  async listen(): Promise<string> {
    this.logPort = await this.sink.listen();
    try {
      this.port = this.bind.port || (await freePort(this.bind.host));
      await this.start();
      this.listening = true;
    } catch (error) {
      // HAProxy did not start (a busy port, say): nothing of this gateway may stay open.
      await this.close(0).catch(() => undefined);
      throw error;
    }
    return `${this.bind.host}:${this.port}`;
  }

  setPools(service: string, pools: Pool[]): Promise<void> {
    validatePools(service, pools);
    const tls = pools.find((p) => p.tls);
    if (tls)
      throw new ValidationError(
        `set pools of service ${service}: release ${tls.release} serves TLS (run.tls), which the haproxy engine cannot check`,
        [],
        { hint: 'use gateway.engine: builtin for services with run.tls (docs/gateway.md)' },
      );
    const commands = this.slots.apply(service, pools);
    this.pools.set(service, pools);
    return this.send(commands);
  }

  /** HAProxy cannot check a backend's URI SAN, so it never connects with TLS (`run.tls` is refused). */
  setIdentity(): void {}

  /**
   * New routes: a config HAProxy has checked (`haproxy -c`), slots of the newly routed services,
   * the current pools of the others, then a seamless reload (the listening socket is handed over).
   * A config HAProxy refuses changes nothing.
   */
  setRoutes(routes: GatewayRoute[]): Promise<void> {
    const run = this.applied.then(async () => {
      const before = { config: this.config, slots: this.slots, auth: this.auth };
      this.config = { ...this.config, routes };
      this.auth = authOf(routes, this.dir);
      this.slots = this.slotTableFor(routes);
      const routed = new Set(routes.map((r) => r.service));
      for (const [service, pools] of this.pools) {
        if (routed.has(service)) this.slots.apply(service, pools);
        else this.pools.delete(service);
      }
      try {
        this.writeFiles();
        await checkConfig(join(this.dir, 'haproxy.cfg'));
        await this.process.reload(`${this.bind.host}:${this.port}`, (code, signal, output) =>
          this.exited(code, signal, output),
        );
      } catch (error) {
        Object.assign(this, before);
        this.writeFiles();
        throw error;
      }
    });
    this.applied = run.catch(() => undefined);
    return run;
  }

  private slotTableFor(routes: GatewayRoute[]): SlotTable {
    const services = [...new Set(routes.map((r) => r.service))];
    return new SlotTable(services, {
      split: mapPath(this.dir, 'split'),
      ...((this.config.pinHeader ?? true) && { pin: mapPath(this.dir, 'pin') }),
    });
  }

  async drain(endpointId: string, timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    await this.send(this.slots.drainEndpoint(endpointId));
    const deadline = Date.now() + timeoutMs;
    while (this.slots.holds(endpointId) && Date.now() < deadline && this.process.running)
      await new Promise((r) => setTimeout(r, REAP_EVERY_MS / 2));
    if (!this.slots.holds(endpointId)) return;
    for (const d of this.slots.draining())
      if (d.endpointId === endpointId)
        await this.send(this.slots.free(d.backend, d.server, true)).catch(() => undefined);
  }

  metrics(service: string, release: string, windowMs: number): WindowMetrics {
    return this.recorder.query(service, release, windowMs, this.now());
  }

  exportMetrics(sinceSecond: number): RecorderExport {
    return this.recorder.exportSince(sinceSecond);
  }

  snapshot(): MetricsSnapshot {
    return this.recorder.snapshot();
  }

  async close(graceMs = 10_000): Promise<void> {
    this.closing = true;
    clearInterval(this.reaper);
    await this.process.stop(graceMs);
    await this.sink.close();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Sends runtime commands in order after those already queued; a no-op before the process runs. */
  private send(commands: string[]): Promise<void> {
    if (commands.length > 0) this.startReaper();
    const run = this.applied.then(async () => {
      if (this.process.running && commands.length > 0) await this.api.sendAll(commands);
    });
    this.applied = run.catch(() => undefined);
    return run;
  }

  private renderConfig(): string {
    return renderHaproxyConfig({
      layout: { dir: this.dir, host: this.bind.host, port: this.port || 1, logPort: this.logPort || 1 },
      routes: this.config.routes,
      limits: this.limits,
      pinHeader: this.config.pinHeader ?? true,
      stickyHeader: this.config.stickyHeader?.toLowerCase(),
      trustForwarded: this.config.trustForwarded ?? false,
      slots: this.slots,
      accessLog: this.config.accessLog !== undefined,
      authRules: this.auth.rules,
    });
  }

  /** Writes config and maps from the current state and starts HAProxy; resolves once its API answers. */
  private async start(): Promise<void> {
    this.slots.forgetDraining();
    this.writeFiles();
    await this.process.start(`${this.bind.host}:${this.port}`, (code, signal, output) =>
      this.exited(code, signal, output),
    );
  }

  /** The config, maps and key files of the current state. */
  private writeFiles(): void {
    for (const f of this.auth.files) writeFileSync(join(this.dir, f.name), f.content, { mode: 0o600 });
    writeFileSync(join(this.dir, 'haproxy.cfg'), this.renderConfig(), { mode: 0o600 });
    writeFileSync(join(this.dir, HOP_BY_HOP_LUA), HOP_BY_HOP_SCRIPT, { mode: 0o600 });
    writeFileSync(mapPath(this.dir, 'split'), this.slots.mapText('split'), { mode: 0o600 });
    writeFileSync(mapPath(this.dir, 'pin'), this.slots.mapText('pin'), { mode: 0o600 });
  }

  /** HAProxy died: start it again from the current state (a few times a minute at most). */
  private exited(code: number | null, signal: string | null, output: string): void {
    if (this.closing || !this.listening) return;
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < 60_000);
    this.config.accessLog?.(JSON.stringify({ level: 'error', msg: 'haproxy exited', code, signal, output }));
    if (this.restarts.length >= RESTARTS_PER_MINUTE) return;
    this.restarts.push(now);
    this.applied = this.applied.then(() => this.start()).catch(() => undefined);
  }

  /** While servers drain, frees those with no stream left (their slots can then be reused). */
  private startReaper(): void {
    if (this.reaper) return;
    this.reaper = setInterval(() => void this.reap(), REAP_EVERY_MS);
    this.reaper.unref();
  }

  private async reap(): Promise<void> {
    const draining = this.slots.draining();
    if (draining.length === 0 || !this.process.running) {
      if (draining.length === 0) {
        clearInterval(this.reaper);
        this.reaper = undefined;
      }
      return;
    }
    let active: Map<string, number>;
    try {
      active = parseShowStat(await this.api.send('show stat -1 4 -1'));
    } catch {
      return;
    }
    for (const d of draining)
      if ((active.get(`${d.backend}/${d.server}`) ?? 0) === 0)
        await this.send(this.slots.free(d.backend, d.server)).catch(() => undefined);
  }

  private onLog(r: LogRecord): void {
    const route = r.route === '' ? undefined : this.config.routes[Number(r.route)];
    const service = route?.service ?? '';
    const { release, endpoint } = this.slots.origin(r.backend, r.server);
    this.recorder.record(r.route, service, release, r.status, r.durationMs, this.now());
    if (!this.config.accessLog) return;
    const entry: AccessLogEntry = {
      time: new Date().toISOString(),
      method: r.method,
      host: r.host,
      path: r.path,
      status: r.status,
      durationMs: r.durationMs,
      client: r.client,
      ...(service && { service }),
      ...(release && { release }),
      ...(endpoint && { endpoint }),
      bytesOut: r.bytesOut,
    };
    this.config.accessLog(JSON.stringify(entry));
  }
}
