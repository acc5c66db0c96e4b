/**
 * Converges what runs to what the state store says should run (`serving`: instances per release,
 * gateway weights), and supervises instances: health checks, replacement of crashed or
 * unhealthy ones by new instances with crash-loop backoff, draining before every stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TrafficRouter } from '../gateway/index.js';
import type { RunSpec } from '../spec/index.js';
import type { InstanceRecord, ServingRecord, SqliteStateStore } from '../state/index.js';
import { CrashBackoff, FAILURE_MEMORY_MS } from './crash-backoff.js';
import { FailureNotes } from './failure-notes.js';
import { type ProbeTls, probeHealth } from './health-probe.js';
import type { InstanceManager } from './instance-manager.js';
import { poolsOf } from './serving-pools.js';

export { poolsOf };

const LIVENESS_EVERY_MS = 500;
/** Releases whose run settings supervision keeps in memory (more live releases: read again). */
const RUN_SPEC_CACHE_ENTRIES = 1024;
/** A starting instance is probed this often (at most), so it takes traffic soon after it is ready. */
const STARTING_PROBE_MS = 100;
/**
 * Right after a start, the new instance is probed this often for its first seconds, not at the
 * supervision pace: a replacement takes traffic as soon as it answers (issue 27: drift replacement
 * under 1 s). Only successes count here; failures are the regular probes' to judge.
 */
const FRESH_PROBE_MS = 20;
const FRESH_PROBE_WINDOW_MS = 5000;

/**
 * Who carries out "scale release R to N" for an environment that is not this machine (a cluster):
 * the second implementation of that seam; health comes back as instance records it keeps.
 */
export interface RemoteScaler {
  converge(serving: ServingRecord): Promise<void>;
}

/** A remote environment that failed to converge is tried again after this long. */
const REMOTE_RETRY_MS = 2000;

export interface ReconcilerDeps {
  /** The remote scaler of an environment that lives elsewhere (Kubernetes); undefined: this machine. */
  remote?: (env: string) => RemoteScaler | undefined;
  store: SqliteStateStore;
  instances: InstanceManager;
  router: (env: string) => TrafficRouter | undefined;
  now?: () => number;
  log?: (line: Record<string, unknown>) => void;
  /** Told of every failed start (the control plane's disk watch takes ENOSPC from here). */
  onStartError?: (error: unknown) => void;
  /** How the gateway and the health probe reach an instance of a `run.tls` release (identity on). */
  backendTls?: (env: string, service: string) => ProbeTls | undefined;
  /** How long a removed instance may finish its in-flight requests. */
  drainTimeoutMs?: (env: string, service: string) => number;
}

interface Probe {
  ok: number;
  bad: number;
  lastProbe: number;
  lastLiveness: number;
}

export class Reconciler {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly probes = new Map<string, Probe>();
  private readonly runSpecs = new Map<string, RunSpec>();
  private readonly backoff: CrashBackoff;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Failed instances per env/release waiting for their replacement, so the new one names the old. */
  private readonly replacing = new Map<string, string[]>();
  /** Drifted instances being replaced: still serving until drained, but no longer counted as capacity. */
  private readonly retiring = new Set<string>();
  /** Who waits for the instance that replaces a retiring one. */
  private readonly replacementWaiters = new Map<string, (fresh: InstanceRecord) => void>();
  private readonly now: () => number;
  /** Why instances are not healthy: probe errors, failed starts (read by rollouts and `deploy --wait`). */
  readonly failures: FailureNotes;
  private closed = false;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? Date.now;
    this.backoff = new CrashBackoff(this.now);
    this.failures = new FailureNotes(this.now);
  }

  /** Converges one service in one environment; calls while one runs coalesce into one more run. */
  request(env: string, service: string): Promise<void> {
    const key = `${env}/${service}`;
    const running = this.inFlight.get(key);
    if (running) {
      this.again.add(key);
      return running;
    }
    const run = (async () => {
      try {
        do {
          this.again.delete(key);
          await this.converge(env, service);
        } while (this.again.has(key));
      } finally {
        this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, run);
    return run;
  }

  async requestAll(): Promise<void> {
    await Promise.all(this.deps.store.listServing().map((s) => this.request(s.env, s.service)));
  }

  /**
   * Points the gateway at the healthy instances of each release, with the stored weights. Resolves
   * once new requests see the change; a gateway that refuses it is logged, never thrown.
   */
  async applyPools(env: string, service: string): Promise<void> {
    const router = this.deps.router(env);
    const serving = this.deps.store.getServing(env, service);
    if (!router || !serving) return;
    const healthy = this.deps.store
      .listInstances({ env, service, live: true })
      .filter((i) => i.state === 'healthy');
    try {
      await router.setPools(service, poolsOf(serving, healthy, this.tlsOfReleases(env, service)));
    } catch (err) {
      this.deps.log?.({ level: 'error', msg: 'apply pools', env, service, error: String(err) });
    }
  }

  /** Failed instances and failed starts of a release since `sinceIso` (a rollout's "new instances keep failing"). */
  failuresSince(env: string, releaseId: string, sinceIso: string): number {
    return (
      this.failedSince(env, releaseId, sinceIso).length +
      this.failures.startFailures(env, releaseId, sinceIso).length
    );
  }

  private failedSince(env: string, releaseId: string, sinceIso: string): InstanceRecord[] {
    return this.deps.store
      .listInstances({ env, releaseId })
      .filter((i) => i.state === 'failed' && (i.stoppedAt ?? i.updatedAt) >= sinceIso);
  }

  /**
   * Why instances of a release are not healthy since `sinceIso`, newest last: each failed instance
   * with its reason, each failed start, then the last probe error of each instance still starting.
   */
  problems(env: string, releaseId: string, sinceIso: string): string[] {
    return [...this.timeline(env, releaseId, sinceIso).slice(-5), ...this.failures.probeProblems(releaseId)];
  }

  /** The latest failure of a release since `sinceIso` (else its latest probe error), if any. */
  lastFailure(env: string, releaseId: string, sinceIso: string): string | undefined {
    return this.timeline(env, releaseId, sinceIso).at(-1) ?? this.failures.probeProblems(releaseId).at(-1);
  }

  private timeline(env: string, releaseId: string, sinceIso: string): string[] {
    const failed = this.failedSince(env, releaseId, sinceIso).map((i) => ({
      at: i.stoppedAt ?? i.updatedAt,
      text: `${i.id} failed: ${i.reason ?? 'no reason recorded'}`,
    }));
    const starts = this.failures
      .startFailures(env, releaseId, sinceIso)
      .map((f) => ({ at: f.atIso, text: f.reason }));
    return [...failed, ...starts].sort((a, b) => a.at.localeCompare(b.at)).map((p) => p.text);
  }

  private async converge(env: string, service: string): Promise<void> {
    const serving = this.deps.store.getServing(env, service);
    if (!serving) return;
    const remote = this.deps.remote?.(env);
    if (remote) return this.convergeRemote(remote, serving);
    await this.applyPools(env, service);
    const live = this.capacity(env, service);
    const releases = new Set([...Object.keys(serving.replicas), ...live.map((i) => i.releaseId)]);
    const work: Promise<unknown>[] = [];
    for (const releaseId of releases) {
      const want = serving.replicas[releaseId] ?? 0;
      const have = live.filter((i) => i.releaseId === releaseId);
      if (have.length < want) work.push(this.startMissing(env, releaseId, want - have.length));
      if (have.length > want) {
        const extras = [...have].sort(stopOrder).slice(0, have.length - want);
        work.push(...extras.map((i) => this.drainAndStop(i, `scaled down to ${want}`)));
      }
    }
    await Promise.all(work);
    await this.applyPools(env, service);
  }

  private async convergeRemote(remote: RemoteScaler, serving: ServingRecord): Promise<void> {
    try {
      await remote.converge(serving);
    } catch (error) {
      const { env, service } = serving;
      this.deps.log?.({
        level: 'error',
        msg: 'converge failed',
        env,
        service,
        error: (error as Error).message,
      });
      this.retryLater(env, service, REMOTE_RETRY_MS);
    }
    await this.applyPools(serving.env, serving.service);
  }

  private async startMissing(env: string, releaseId: string, count: number): Promise<void> {
    const release = this.deps.store.getRelease(releaseId);
    if (!release) return;
    // A start that failed for a reason that will not change is not retried (the rollout fails on it).
    const recently = new Date(this.now() - FAILURE_MEMORY_MS).toISOString();
    if (this.failures.permanent(env, releaseId, recently)) return;
    const wait = this.backoffRemaining(env, releaseId);
    if (wait > 0) {
      this.retryLater(env, release.service, wait);
      return;
    }
    await Promise.all(
      Array.from({ length: count }, async () => {
        const replaced = this.replacing.get(`${env}/${releaseId}`)?.shift();
        try {
          const fresh = await this.deps.instances.start(
            release,
            env,
            replaced ? `replaces ${replaced}` : 'scale up',
            replaced,
          );
          if (replaced) this.replacementWaiters.get(replaced)?.(fresh);
          void this.probeFresh(fresh);
        } catch (error) {
          this.noteFailure(env, releaseId);
          const permanent = this.failures.startFailed(env, releaseId, error);
          this.deps.onStartError?.(error);
          this.deps.log?.({
            msg: permanent ? 'instance start failed; not retried' : 'instance start failed',
            env,
            release: releaseId,
            error: (error as Error).message,
          });
          if (!permanent) this.retryLater(env, release.service, this.backoffRemaining(env, releaseId));
        }
      }),
    );
  }

  /** Live instances that count towards a service's replicas (not draining, quarantined or retiring). */
  private capacity(env: string, service: string): InstanceRecord[] {
    return this.deps.store
      .listInstances({ env, service, live: true })
      .filter((i) => i.state !== 'draining' && i.state !== 'quarantined' && !this.retiring.has(i.id));
  }

  /**
   * Starts a fresh instance in place of a drifted one, which keeps serving meanwhile. Resolves with
   * the new record, or `undefined` when the release does not need one (it wants fewer instances).
   */
  startReplacement(instance: InstanceRecord): Promise<InstanceRecord | undefined> {
    const want =
      this.deps.store.getServing(instance.env, instance.service)?.replicas[instance.releaseId] ?? 0;
    const others = this.capacity(instance.env, instance.service).filter(
      (i) => i.releaseId === instance.releaseId && i.id !== instance.id,
    );
    this.retiring.add(instance.id);
    if (others.length >= want) return Promise.resolve(undefined);
    const key = `${instance.env}/${instance.releaseId}`;
    this.replacing.set(key, [...(this.replacing.get(key) ?? []), instance.id]);
    const started = new Promise<InstanceRecord>((resolve) =>
      this.replacementWaiters.set(instance.id, resolve),
    );
    void this.request(instance.env, instance.service);
    return started;
  }

  /** Ends a drift replacement: drains the drifted instance out of the gateway, then stops it. */
  async retire(instanceId: string, reason: string): Promise<void> {
    try {
      const current = this.deps.store.getInstance(instanceId);
      if (current && current.state !== 'stopped' && current.state !== 'failed')
        await this.drainAndStop(current, reason);
    } finally {
      this.forgetReplacement(instanceId);
    }
  }

  /** Gives a replacement up: the instance counts as capacity again. */
  forgetReplacement(instanceId: string): void {
    this.retiring.delete(instanceId);
    this.replacementWaiters.delete(instanceId);
    for (const queue of this.replacing.values()) {
      const at = queue.indexOf(instanceId);
      if (at >= 0) queue.splice(at, 1);
    }
  }

  /** Takes a drifted instance out of traffic and keeps it running for inspection; a fresh one takes its place. */
  async quarantine(instance: InstanceRecord, reason: string): Promise<void> {
    this.probes.delete(instance.id);
    this.deps.instances.mark(instance, 'quarantined', reason);
    await this.applyPools(instance.env, instance.service);
    const key = `${instance.env}/${instance.releaseId}`;
    this.replacing.set(key, [...(this.replacing.get(key) ?? []), instance.id]);
    await this.request(instance.env, instance.service);
  }

  private async drainAndStop(instance: InstanceRecord, reason: string): Promise<void> {
    const draining = this.deps.instances.mark(instance, 'draining', reason);
    await this.applyPools(instance.env, instance.service);
    const run = this.runSpec(instance);
    await this.deps
      .router(instance.env)
      ?.drain(instance.id, this.deps.drainTimeoutMs?.(instance.env, instance.service));
    await this.deps.instances.stop(draining, run?.stopGraceMs ?? 10_000, reason);
  }

  /** One supervision pass: liveness of every live instance and health probes that are due. */
  async supervise(): Promise<void> {
    const live = this.deps.store
      .listInstances({ live: true })
      // A remote environment's health is its own (readiness probes), reported through its records.
      .filter((i) => i.state !== 'draining' && i.state !== 'quarantined' && !this.deps.remote?.(i.env));
    await Promise.all(live.map((i) => this.superviseOne(i)));
  }

  private async superviseOne(instance: InstanceRecord): Promise<void> {
    const run = this.runSpec(instance);
    if (!run || !instance.endpoint) return;
    const now = this.now();
    const probe = this.probes.get(instance.id) ?? { ok: 0, bad: 0, lastProbe: 0, lastLiveness: 0 };
    this.probes.set(instance.id, probe);
    if (now - probe.lastLiveness >= LIVENESS_EVERY_MS) {
      probe.lastLiveness = now;
      if (!(await this.deps.instances.isRunning(instance)))
        return this.fail(instance, await this.withOutput(instance, 'the process exited'));
    }
    const every =
      instance.state === 'starting'
        ? Math.min(STARTING_PROBE_MS, run.health.intervalMs)
        : run.health.intervalMs;
    if (now - probe.lastProbe < every) return;
    probe.lastProbe = now;
    const result = await probeHealth(instance.endpoint, run.health, this.probeTls(instance, run));
    const ok = result.ok;
    this.failures.probe(instance.id, instance.releaseId, result.error);
    probe.ok = ok ? probe.ok + 1 : 0;
    probe.bad = ok ? 0 : probe.bad + 1;
    // A passed probe of a healthy instance changes nothing: its record is not read again (128 reads a second at scale).
    if (ok && instance.state === 'healthy') return;
    const current = this.deps.store.getInstance(instance.id);
    if (!current || (current.state !== 'starting' && current.state !== 'healthy')) return;
    if (await this.healthyNow(current, probe, run)) return;
    const started = Date.parse(current.createdAt);
    const inGrace = current.state === 'starting' && now - started < run.health.startPeriodMs;
    if (!inGrace && probe.bad >= run.health.unhealthyThreshold) {
      const why = `${probe.bad} health checks failed in a row (${result.error})`;
      await this.fail(current, await this.withOutput(current, why));
    }
  }

  /** `reason`, and the last lines the instance wrote (its stderr shares the log): why it failed, in its words. */
  private async withOutput(instance: InstanceRecord, reason: string): Promise<string> {
    const lines = await this.deps.instances.lastOutput(instance);
    return lines.length > 0 ? `${reason}; it last wrote: ${lines.join(' | ')}` : reason;
  }

  /** Marks a starting instance healthy once enough probes in a row passed, and gives it traffic. */
  private async healthyNow(current: InstanceRecord, probe: Probe, run: RunSpec): Promise<boolean> {
    if (current.state !== 'starting' || probe.ok < run.health.healthyThreshold) return false;
    this.deps.instances.mark(current, 'healthy', `${probe.ok} health check(s) passed`);
    await this.applyPools(current.env, current.service);
    return true;
  }

  /** Probes a just-started instance every FRESH_PROBE_MS until it is healthy (or leaves `starting`). */
  private async probeFresh(fresh: InstanceRecord): Promise<void> {
    const run = this.runSpec(fresh);
    if (!run || !fresh.endpoint || this.deps.remote?.(fresh.env)) return;
    const until = this.now() + FRESH_PROBE_WINDOW_MS;
    while (this.now() < until && !this.closed) {
      const { ok } = await probeHealth(fresh.endpoint, run.health, this.probeTls(fresh, run));
      const current = this.deps.store.getInstance(fresh.id);
      if (current?.state !== 'starting') return;
      if (ok) {
        this.failures.probe(fresh.id, fresh.releaseId, undefined);
        const probe = this.probes.get(fresh.id) ?? { ok: 0, bad: 0, lastProbe: 0, lastLiveness: 0 };
        this.probes.set(fresh.id, { ...probe, ok: probe.ok + 1, bad: 0, lastProbe: this.now() });
        if (await this.healthyNow(current, this.probes.get(fresh.id)!, run)) return;
      }
      await sleep(FRESH_PROBE_MS, undefined, { ref: false });
    }
  }

  /** A crashed or unhealthy instance is replaced, never repaired: stop it, start a new one. */
  private async fail(instance: InstanceRecord, reason: string): Promise<void> {
    this.probes.delete(instance.id);
    this.failures.forget(instance.id);
    const draining = this.deps.instances.mark(instance, 'draining', reason);
    await this.applyPools(instance.env, instance.service);
    this.noteFailure(instance.env, instance.releaseId);
    const key = `${instance.env}/${instance.releaseId}`;
    // A retiring instance already has its replacement under way.
    if (!this.retiring.has(instance.id))
      this.replacing.set(key, [...(this.replacing.get(key) ?? []), instance.id]);
    try {
      await this.deps.instances.stop(draining, 1000, reason, 'failed');
    } catch (error) {
      this.deps.log?.({
        msg: 'stopping a failed instance failed',
        instance: instance.id,
        error: (error as Error).message,
      });
    }
    this.retryLater(instance.env, instance.service, this.backoffRemaining(instance.env, instance.releaseId));
  }

  private noteFailure(env: string, releaseId: string): void {
    this.backoff.note(`${env}/${releaseId}`);
  }

  private backoffRemaining(env: string, releaseId: string): number {
    return this.backoff.remainingMs(`${env}/${releaseId}`);
  }

  private retryLater(env: string, service: string, delayMs: number): void {
    const timer = setTimeout(
      () => {
        this.retryTimers.delete(timer);
        void this.request(env, service);
      },
      Math.max(delayMs, 10),
    );
    this.retryTimers.add(timer);
  }

  /**
   * A release's run settings, read from the store once: a release never changes, and supervision
   * asks for every live instance's four times a second (a query and a JSON parse each).
   */
  private runSpec(instance: InstanceRecord): RunSpec | undefined {
    return this.runSpecOf(instance.releaseId);
  }

  private runSpecOf(releaseId: string): RunSpec | undefined {
    const known = this.runSpecs.get(releaseId);
    if (known) return known;
    const run = this.deps.store.getRelease(releaseId)?.config.run as RunSpec | undefined;
    if (run) {
      if (this.runSpecs.size >= RUN_SPEC_CACHE_ENTRIES) this.runSpecs.clear();
      this.runSpecs.set(releaseId, run);
    }
    return run;
  }

  /** Which releases of a service serve TLS (`run.tls`), and the SPIFFE ID their certificates name. */
  private tlsOfReleases(env: string, service: string): (release: string) => { spiffeId: string } | undefined {
    return (release) => {
      if (!this.runSpecOf(release)?.tls) return undefined;
      const tls = this.deps.backendTls?.(env, service);
      return tls && { spiffeId: tls.spiffeId };
    };
  }

  /** A `run.tls` instance is probed over TLS as the gateway connects to it. */
  private probeTls(instance: InstanceRecord, run: RunSpec): ProbeTls | undefined {
    return run.tls ? this.deps.backendTls?.(instance.env, instance.service) : undefined;
  }

  /** On shutdown: waits for converges under way; cancels scheduled retries and the probes of fresh instances. */
  async idle(): Promise<void> {
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    await Promise.all([...this.inFlight.values()]);
  }
}

/** Which instances to stop first when scaling down: not yet healthy ones, then the oldest. */
function stopOrder(a: InstanceRecord, b: InstanceRecord): number {
  const rank = (i: InstanceRecord) => (i.state === 'healthy' ? 1 : 0);
  return rank(a) - rank(b) || a.createdAt.localeCompare(b.createdAt);
}
