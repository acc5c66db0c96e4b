/**
 * Carries out what planRemediation decides for one environment's drift reports: evidence first,
 * then a rebuilt bundle when the shared one was altered, then replacement through the reconciler
 * (a fresh instance, healthy, before the drifted one is drained and stopped), quarantine, or
 * stopping a container nobody recorded. Every action lands in the audit log.
 */
import { relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEvent, AuditLog } from '../audit/index.js';
import { digestHex } from '../lib/index.js';
import type { InstanceRecord, SqliteStateStore } from '../state/index.js';
import {
  type BundleDirs,
  type PrepareBundle,
  type RetiredBundle,
  rebuildBundle,
  sweepRetired,
} from './bundle-rebuild.js';
import type { DriftReport } from './check.js';
import { keepForensics } from './forensics.js';
import {
  DEFAULT_MIN_REPLACE_INTERVAL_MS,
  DEFAULT_QUARANTINE_WINDOW_MS,
  type DriftMode,
  type PastReplacement,
  planRemediation,
  type RemediationAction,
} from './remediation.js';
import type { BundleSpares } from './spares.js';

/** A fresh instance must be healthy within this long, or the drifted one keeps serving. */
export const DEFAULT_REPLACE_TIMEOUT_MS = 90_000;
/** A container younger than this may be an instance whose record is being written: not stopped yet. */
export const UNKNOWN_MIN_AGE_MS = 3000;
const HEALTH_POLL_MS = 50;
const KIND_NAMES = {
  file: 'files',
  identity: 'bundle identity',
  process: 'processes',
  config: 'runtime config',
  secret: 'secrets',
} as const;

/** What remediation asks of the control plane's reconciler (a fresh instance first, then the old one out). */
export interface Replacements {
  startReplacement(instance: InstanceRecord): Promise<InstanceRecord | undefined>;
  forgetReplacement(instanceId: string): void;
  retire(instanceId: string, reason: string): Promise<void>;
  quarantine(instance: InstanceRecord, reason: string): Promise<void>;
}

/** What remediation asks of the instance manager about containers no record accounts for. */
export interface UnknownInstances {
  stopUnknown(id: string, minAgeMs: number, reason: string): Promise<'stopped' | 'too-young' | 'gone'>;
  isStarting(id: string): boolean;
}

export interface DriftRemedyDeps {
  store: SqliteStateStore;
  audit: AuditLog;
  reconciler: Replacements;
  instances: UnknownInstances;
  /** Who the audit entries name (the control plane). */
  actor: string;
  /** Unpacks an image's bundle (off the event loop in the control plane). */
  prepare: PrepareBundle;
  dirs: BundleDirs & { forensicsDir: string; workspaceRoot: string };
  /** Asks for another check of `env` after `delayMs` (a deferred replacement, a too young container). */
  recheck: (env: string, delayMs: number) => void;
  /** Called before a bundle is moved aside, so its watch is dropped. */
  beforeRebuild?: (imageDigest: string) => void;
  /** Verified spare bundles: an altered bundle is swapped for its spare instead of unpacked again. */
  spares?: Pick<BundleSpares, 'moveInto'>;
  log?: (line: Record<string, unknown>) => void;
  replaceTimeoutMs?: number;
}

export class DriftRemedy {
  private past: PastReplacement[] = [];
  /** Instances whose replacement, quarantine or stop is under way: not planned again meanwhile. */
  private readonly busy = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly deferred = new Set<string>();
  private retired: RetiredBundle[] = [];
  private readonly stopping = new AbortController();

  constructor(private readonly deps: DriftRemedyDeps) {}

  /** Drift replacements recorded in the audit log within the quarantine window count after a restart too. */
  seed(retired: RetiredBundle[], nowMs = Date.now()): void {
    this.retired = retired;
    const since = new Date(nowMs - DEFAULT_QUARANTINE_WINDOW_MS).toISOString();
    const passes = new Map<string, PastReplacement>();
    for (const e of this.deps.audit.list({ since })) {
      const { service, env } = e.subject;
      if (e.action !== 'drift.replace' || !service || !env) continue;
      // One pass replaces every instance on an altered bundle: it counts once.
      passes.set(`${service}/${env}/${String(e.detail?.round)}`, { service, env, atMs: Date.parse(e.time) });
    }
    this.past = [...passes.values()];
  }

  /** Plans and starts the actions for one environment's reports; resolves once evidence and bundles are done. */
  async act(
    env: string,
    mode: DriftMode,
    reports: DriftReport[],
    intervalMs: number,
  ): Promise<RemediationAction[]> {
    const nowMs = Date.now();
    const candidates = reports.filter((r) => !this.busy.has(r.instance) && this.actionable(r));
    const actions = planRemediation(
      candidates,
      this.past,
      {
        mode,
        minReplaceIntervalMs: Math.min(DEFAULT_MIN_REPLACE_INTERVAL_MS, intervalMs),
      },
      nowMs,
    );
    const byId = new Map(reports.map((r) => [r.instance, r]));
    const evidence = new Map<string, string>();
    for (const a of actions) {
      if (a.kind !== 'replace' && a.kind !== 'quarantine') continue;
      evidence.set(a.instance, await this.keepEvidence(byId.get(a.instance)!));
    }
    await this.rebuildAltered(actions);
    const replaced = new Set(actions.flatMap((a) => (a.kind === 'replace' ? [a.service] : [])));
    for (const service of replaced) this.past.push({ service, env, atMs: nowMs });
    for (const a of actions) this.start(env, a, byId.get(a.instance)!, evidence.get(a.instance), nowMs);
    await this.sweep();
    return actions;
  }

  /** Removes moved-aside bundles nothing runs on any more. */
  private async sweep(): Promise<void> {
    const candidates = this.retired;
    this.retired = [];
    this.retired.push(...(await sweepRetired(this.deps.store, candidates)));
  }

  /** Stops waiting for replacements to become healthy (cairn up is stopping), then waits for the tasks. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.idle();
  }

  /** Waits for every replacement under way. */
  async idle(): Promise<void> {
    await Promise.all([...this.tasks]);
  }

  /** A recorded instance that is draining or quarantined is already out of traffic: nothing more to do. */
  private actionable(r: DriftReport): boolean {
    if (!r.recorded) return true;
    const state = this.deps.store.getInstance(r.instance)?.state;
    return state === 'starting' || state === 'healthy' || state === 'unhealthy';
  }

  private async keepEvidence(r: DriftReport): Promise<string> {
    const digest = this.deps.store.getInstance(r.instance)?.identity.imageDigest;
    const rootfs = `${this.deps.dirs.bundlesDir}/${digestHex(String(digest))}/rootfs`;
    const dir = await keepForensics(this.deps.dirs.forensicsDir, r, rootfs, new Date().toISOString());
    return relative(this.deps.dirs.workspaceRoot, dir);
  }

  /** Rebuilds each altered bundle once, before any of its instances is replaced. */
  private async rebuildAltered(actions: RemediationAction[]): Promise<void> {
    const digests = new Set<string>();
    for (const a of actions) {
      if (a.kind !== 'replace' || !a.rebuildBundle) continue;
      const digest = this.deps.store.getInstance(a.instance)?.identity.imageDigest;
      if (typeof digest === 'string') digests.add(digest);
    }
    for (const digest of digests) {
      this.deps.beforeRebuild?.(digest);
      try {
        const rebuilt = await rebuildBundle(
          this.deps.dirs,
          digest,
          new Date(),
          this.deps.prepare,
          this.deps.spares,
        );
        this.retired.push(rebuilt);
        await this.record({
          action: 'drift.rebuild_bundle',
          subject: { image: digest },
          reason: 'the shared bundle was altered',
          detail: { from: rebuilt.from },
        });
      } catch (error) {
        const message = (error as Error).message;
        await this.record({ action: 'drift.rebuild_failed', subject: { image: digest }, reason: message });
        this.deps.log?.({ msg: 'rebuilding a drifted bundle failed', image: digest, error: message });
      }
    }
  }

  private start(
    env: string,
    a: RemediationAction,
    r: DriftReport,
    evidence: string | undefined,
    nowMs: number,
  ): void {
    if (a.kind === 'defer') {
      if (!this.deferred.has(a.instance)) {
        this.deferred.add(a.instance);
        this.record({
          action: 'drift.defer',
          subject: subjectOf(r),
          reason: `another drift replacement of ${r.service} happened less than the minimum interval ago`,
          detail: { untilMs: a.untilMs },
        }).catch((error: Error) =>
          this.deps.log?.({ msg: 'recording a drift deferral failed', error: error.message }),
        );
      }
      this.deps.recheck(env, a.untilMs - nowMs);
      return;
    }
    if (a.kind === 'report') return;
    this.deferred.delete(a.instance);
    this.busy.add(a.instance);
    const task = this.run(a, r, evidence, nowMs)
      .catch((error: Error) =>
        this.deps.log?.({ msg: 'drift remediation failed', instance: a.instance, error: error.message }),
      )
      .finally(() => {
        this.busy.delete(a.instance);
        this.tasks.delete(task);
        void this.sweep();
      });
    this.tasks.add(task);
  }

  private async run(
    a: RemediationAction,
    r: DriftReport,
    evidence: string | undefined,
    nowMs: number,
  ): Promise<void> {
    if (a.kind === 'stop-unknown') {
      const outcome = await this.deps.instances.stopUnknown(
        a.instance,
        UNKNOWN_MIN_AGE_MS,
        'drift: a container no live instance record accounts for (enforce mode)',
      );
      if (outcome === 'too-young') this.deps.recheck(r.env, UNKNOWN_MIN_AGE_MS);
      return;
    }
    const instance = this.deps.store.getInstance(a.instance);
    if (!instance) return;
    if (a.kind === 'quarantine') {
      const reason = `drift: ${a.replacements} drift replacements of ${a.service} in ${a.env} within ${DEFAULT_QUARANTINE_WINDOW_MS / 60_000} min; quarantined (evidence in ${evidence})`;
      await this.deps.reconciler.quarantine(instance, reason);
      return;
    }
    if (a.kind !== 'replace') return;
    // Durable before the replacement starts: the quarantine count reads these entries back.
    await this.record({
      action: 'drift.replace',
      subject: subjectOf(r),
      reason: summary(r),
      detail: { forensics: evidence, rebuildBundle: a.rebuildBundle, round: nowMs },
    });
    await this.replace(instance, r);
  }

  /** A fresh instance first; once it is healthy, the drifted one is drained and stopped. */
  private async replace(instance: InstanceRecord, r: DriftReport): Promise<void> {
    const timeoutMs = this.deps.replaceTimeoutMs ?? DEFAULT_REPLACE_TIMEOUT_MS;
    const timer = new AbortController();
    const cancel = () => timer.abort();
    this.stopping.signal.addEventListener('abort', cancel, { once: true });
    let fresh: InstanceRecord | undefined | 'timeout';
    try {
      fresh = await Promise.race([
        this.deps.reconciler.startReplacement(instance),
        sleep(timeoutMs, 'timeout' as const, { signal: timer.signal }).catch(() => 'timeout' as const),
      ]);
    } finally {
      timer.abort();
      this.stopping.signal.removeEventListener('abort', cancel);
    }
    const healthy =
      fresh === undefined || (fresh !== 'timeout' && (await this.waitHealthy(fresh.id, timeoutMs)));
    if (this.stopping.signal.aborted) return; // cairn up is stopping: the next start checks again.
    if (!healthy) {
      this.deps.reconciler.forgetReplacement(instance.id);
      await this.record({
        action: 'drift.replace_failed',
        subject: subjectOf(r),
        reason: `no healthy replacement within ${timeoutMs} ms: the drifted instance keeps serving until the next check`,
      });
      return;
    }
    const by =
      fresh && fresh !== 'timeout'
        ? `replaced by ${fresh.id}`
        : 'not replaced: the release wants fewer instances';
    await this.deps.reconciler.retire(instance.id, `drift: ${summary(r)}; ${by}`);
  }

  private async waitHealthy(id: string, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until && !this.stopping.signal.aborted) {
      const state = this.deps.store.getInstance(id)?.state;
      if (state === 'healthy') return true;
      if (state !== 'starting') return false;
      await sleep(HEALTH_POLL_MS);
    }
    return false;
  }

  /**
   * Group commit: remedies that run together (a wave of drifted instances) share one fsync; each
   * goes on only once its entry is durable (a failed write stops it, as before).
   */
  private record(event: Omit<AuditEvent, 'actor'>): Promise<unknown> {
    return this.deps.audit.recordDurably({ actor: this.deps.actor, ...event });
  }
}

function subjectOf(r: DriftReport): Record<string, string> {
  return { instance: r.instance, service: r.service, env: r.env, release: r.release };
}

function summary(r: DriftReport): string {
  const v = r.verdict;
  if (v.status !== 'drifted') return v.status;
  const kinds = [...new Set(v.reasons.map((x) => KIND_NAMES[x.kind]))];
  return `drifted (${v.reasons.length} difference(s): ${kinds.join(', ')})`;
}
