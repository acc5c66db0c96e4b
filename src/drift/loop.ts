/**
 * Continuous drift checking in `cairn up`: a full check of each environment every
 * `drift.intervalMs` that trusts no event, plus the fast path — a change to a bundle that live
 * instances run on checks their environments at once. One check runs at a time; each records
 * what it found (once per new finding) and hands the reports to the remedy.
 */

import type { AuditEvent } from '../audit/index.js';
import {
  createRuntimeDriver,
  type RuntimeConfig,
  type RuntimeDriver,
  type RuntimeKind,
} from '../runtime/index.js';
import type { DriftSettings } from '../spec/index.js';
import { findRetired } from './bundle-rebuild.js';
import { BundleWatches, type WatchTree } from './bundle-watches.js';
import { checkDrift, type DriftReport } from './check.js';
import { confirmFastPath } from './fast-path.js';
import { createHashPool, type HashPool } from './hash-pool.js';
import { observePaths } from './observe-files.js';
import { DriftRemedy, type DriftRemedyDeps } from './remediation-runner.js';
import { detectionEvent } from './render.js';
import { BundleSpares } from './spares.js';

/** How often the set of watched bundles follows the live instances. */
const WATCH_SYNC_MS = 500;
/** The fast path's own hash worker stays started (~24 days): starting one takes 100s of ms under load. */
const FAST_POOL_IDLE_MS = 2 ** 31 - 1;

export type CheckTrigger = 'start' | 'interval' | 'fast-path' | 'recheck';

/** What `cairn status` shows about an environment's drift checks. */
export interface DriftEnvStatus {
  env: string;
  mode: DriftSettings['mode'];
  intervalMs: number;
  fastPath: boolean;
  checks: number;
  lastCheck?: {
    at: string;
    trigger: CheckTrigger;
    durationMs: number;
    instances: number;
    notInSync: number;
  };
}

export interface DriftLoopDeps extends Omit<DriftRemedyDeps, 'recheck' | 'beforeRebuild' | 'spares'> {
  runtime: RuntimeConfig;
  /** Drift settings by environment (filled with defaults by the spec parser). */
  settings: Record<string, DriftSettings>;
  watch?: WatchTree;
  /** The check itself; `checkDrift` unless a test gives another. */
  check?: typeof checkDrift;
}

export class DriftLoop {
  private readonly status = new Map<string, DriftEnvStatus>();
  private readonly pending = new Map<string, CheckTrigger>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The last finding recorded per instance, so a finding that persists is recorded once. */
  private readonly recorded = new Map<string, string>();
  private readonly remedy: DriftRemedy;
  private readonly watches: BundleWatches;
  private readonly watchErrors = new Set<string>();
  private readonly spares: BundleSpares;
  /** Paths named by fast-path events and not confirmed yet, by image digest. */
  private readonly fastPaths = new Map<string, Set<string>>();
  private readonly fastPool: HashPool = createHashPool({ threads: 1, idleCloseMs: FAST_POOL_IDLE_MS });
  private running: Promise<void> | undefined;
  private stopped = false;
  /**
   * Drivers by kind, made once for every check: making one probes the machine (`runc --version`,
   * `bwrap --version`, blocking), and a long-lived runc driver answers `inspect` from /proc.
   */
  private readonly drivers = new Map<RuntimeKind, RuntimeDriver>();
  private readonly driverFor = (kind: RuntimeKind): RuntimeDriver => {
    let driver = this.drivers.get(kind);
    if (!driver) {
      driver = createRuntimeDriver(kind, this.deps.runtime);
      this.drivers.set(kind, driver);
    }
    return driver;
  };

  constructor(private readonly deps: DriftLoopDeps) {
    this.spares = new BundleSpares({
      storeDir: deps.dirs.storeDir,
      bundlesDir: deps.dirs.bundlesDir,
      prepare: deps.prepare,
      ...(deps.watch ? { watch: deps.watch } : {}),
      ...(deps.log ? { log: deps.log } : {}),
    });
    this.remedy = new DriftRemedy({
      ...deps,
      spares: this.spares,
      recheck: (env, delayMs) => this.later(delayMs, () => this.request(env, 'recheck')),
      beforeRebuild: (digest) => this.watches.forget(digest),
    });
    this.watches = new BundleWatches({
      bundlesDir: deps.dirs.bundlesDir,
      onChange: (digest, path) => this.onBundleChange(digest, path),
      onError: (digest, error) => this.onWatchError(digest, error),
      ...(deps.watch ? { watch: deps.watch } : {}),
    });
    for (const [env, s] of Object.entries(deps.settings)) {
      this.status.set(env, { env, mode: s.mode, intervalMs: s.intervalMs, fastPath: s.fastPath, checks: 0 });
    }
  }

  /** Starts the periodic checks, the watches and the fast path's worker; checks every environment now. */
  async start(): Promise<void> {
    this.remedy.seed(await findRetired(this.deps.dirs.bundlesDir));
    for (const [env, s] of Object.entries(this.deps.settings)) {
      this.timers.add(setInterval(() => this.request(env, 'interval'), s.intervalMs));
      this.request(env, 'start');
    }
    this.timers.add(setInterval(() => this.syncWatches(), WATCH_SYNC_MS));
    this.syncWatches();
    if (this.fastPathEnvs().length > 0)
      void this.fastPool.stat(this.deps.dirs.bundlesDir, []).catch(() => {});
  }

  /** Asks for a check of `env`; requests made while one is queued coalesce. */
  request(env: string, trigger: CheckTrigger): void {
    if (this.stopped || !this.deps.settings[env]) return;
    if (!this.pending.has(env)) this.pending.set(env, trigger);
    this.kick();
  }

  private kick(): void {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** Whether the last check found `id` not in sync (and no later one found it in sync again). */
  isDrifted(id: string): boolean {
    return this.recorded.has(id);
  }

  /** Each environment's drift settings and last check. */
  statusView(): DriftEnvStatus[] {
    return [...this.status.values()].map((s) => ({ ...s }));
  }

  /** Stops timers and watches; waits for the check and the replacements under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.watches.close();
    await this.running;
    await this.remedy.stop();
    await this.spares.close();
    await this.fastPool.close();
  }

  /** Checks one environment now and acts on what it finds. */
  async check(env: string, trigger: CheckTrigger): Promise<DriftReport[]> {
    const settings = this.deps.settings[env]!;
    const t0 = performance.now();
    const instances = this.deps.store.listInstances({ env, live: true });
    const check = this.deps.check ?? checkDrift;
    const reports = (
      await check({ instances, runtime: this.deps.runtime, env, driverFor: this.driverFor })
    ).filter((r) => this.stillCurrent(r));
    const status = this.status.get(env)!;
    status.checks += 1;
    status.lastCheck = {
      at: new Date().toISOString(),
      trigger,
      durationMs: Math.round(performance.now() - t0),
      instances: reports.length,
      notInSync: reports.filter((r) => r.verdict.status !== 'in-sync').length,
    };
    await this.recordFindings(reports, 'full');
    if (!this.stopped) await this.remedy.act(env, settings.mode, reports, settings.intervalMs);
    return reports;
  }

  /**
   * Whether a report still describes the present: instances start and stop while a check runs, so
   * a record that stopped meanwhile is not `missing`, and a container whose record was written
   * meanwhile is not `unknown`. A draining instance is being stopped: not missing either.
   */
  private stillCurrent(r: DriftReport): boolean {
    const state = this.deps.store.getInstance(r.instance)?.state;
    const live = state !== undefined && state !== 'stopped' && state !== 'failed';
    if (!r.recorded) return !live && !this.deps.instances.isStarting(r.instance);
    if (state === 'draining') return r.verdict.status === 'in-sync' || r.verdict.status === 'drifted';
    return live;
  }

  private async drain(): Promise<void> {
    while ((this.pending.size > 0 || this.fastPaths.size > 0) && !this.stopped) {
      const fast = this.fastPaths.entries().next().value as [string, Set<string>] | undefined;
      if (fast) {
        this.fastPaths.delete(fast[0]);
        await this.confirmFast(fast[0], [...fast[1]]);
        continue;
      }
      const [env, trigger] = this.pending.entries().next().value as [string, CheckTrigger];
      this.pending.delete(env);
      try {
        await this.check(env, trigger);
      } catch (error) {
        this.deps.log?.({ msg: 'drift check failed', env, error: (error as Error).message });
      }
    }
  }

  /**
   * Records each finding once: again only when it changes, or after the instance was in sync.
   * `check` says how it was found: `full` or `fast-path` (only the paths the events named).
   */
  private async recordFindings(reports: DriftReport[], check: 'full' | 'fast-path'): Promise<void> {
    const events: AuditEvent[] = [];
    for (const r of reports) {
      if (r.verdict.status === 'in-sync') {
        this.recorded.delete(r.instance);
        continue;
      }
      const fingerprint = JSON.stringify(r.verdict);
      if (this.recorded.get(r.instance) === fingerprint) continue;
      this.recorded.set(r.instance, fingerprint);
      const found = detectionEvent(r);
      const event = { actor: this.deps.actor, ...found, detail: { ...found.detail, check } };
      events.push(event);
    }
    // Group commit: a check that finds many instances drifted writes them with one fsync, and the
    // remedies (whose entries follow) start only once the findings are durable.
    await Promise.all(events.map((e) => this.deps.audit.recordDurably(e)));
  }

  private fastPathEnvs(): string[] {
    return Object.entries(this.deps.settings)
      .filter(([, s]) => s.fastPath)
      .map(([env]) => env);
  }

  /** The image digests live instances of `envs` run on. */
  private liveDigests(envs: string[]): Set<string> {
    const digests = new Set<string>();
    for (const env of envs) {
      for (const i of this.deps.store.listInstances({ env, live: true })) {
        if (typeof i.identity.imageDigest === 'string') digests.add(i.identity.imageDigest);
      }
    }
    return digests;
  }

  private syncWatches(): void {
    this.watches.sync(this.liveDigests(this.fastPathEnvs()));
    const enforced = Object.entries(this.deps.settings).filter(([, s]) => s.mode === 'enforce');
    this.spares.sync(this.liveDigests(enforced.map(([env]) => env)));
  }

  private onBundleChange(digest: string, path: string): void {
    if (this.stopped) return;
    const paths = this.fastPaths.get(digest) ?? new Set<string>();
    paths.add(path);
    this.fastPaths.set(digest, paths);
    this.kick();
  }

  /**
   * In enforce mode, hashes only the paths the events named and acts at once on a confirmed
   * difference; the full check follows once the replacements are done (at once when nothing was
   * confirmed, and in warn mode, where only the full check's complete finding is recorded).
   */
  private async confirmFast(digest: string, paths: string[]): Promise<void> {
    for (const env of this.fastPathEnvs()) {
      const live = this.deps.store
        .listInstances({ env, live: true })
        .filter((i) => i.identity.imageDigest === digest);
      if (live.length === 0) continue;
      if (this.deps.settings[env]!.mode !== 'enforce') {
        this.request(env, 'fast-path'); // Nothing to act on: the full check reports it, once.
        continue;
      }
      const bundlesDir = this.deps.dirs.bundlesDir;
      const observe = (rootfs: string, named: string[]) => observePaths(rootfs, named, this.fastPool);
      const reports = await confirmFastPath({
        bundlesDir,
        imageDigest: digest,
        paths,
        instances: live,
        observe,
      })
        .then((all) => all.filter((r) => this.stillCurrent(r)))
        .catch(() => []);
      if (reports.length === 0 || this.stopped) {
        this.request(env, 'fast-path');
        continue;
      }
      const settings = this.deps.settings[env]!;
      await this.recordFindings(reports, 'fast-path');
      await this.remedy.act(env, settings.mode, reports, settings.intervalMs);
      void this.remedy.idle().then(() => this.request(env, 'fast-path'));
    }
  }

  private onWatchError(digest: string, error: Error): void {
    if (this.watchErrors.has(digest)) return;
    this.watchErrors.add(digest);
    this.deps.log?.({
      msg: 'drift fast path unavailable for a bundle; the periodic check still runs',
      image: digest,
      error: error.message,
    });
  }

  private later(delayMs: number, fn: () => void): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        fn();
      },
      Math.max(delayMs, 10),
    );
    this.timers.add(timer);
  }
}
