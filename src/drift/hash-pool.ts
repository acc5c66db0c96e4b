/**
 * A pool of worker threads that list and hash bundle files, so the control plane's main thread —
 * which also runs the gateway — keeps serving while hundreds of megabytes are verified. Sized to
 * the machine's cores; workers start on first use, never keep the process alive while idle, and
 * exit after a quiet period.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CairnError } from '../lib/index.js';
import type { FileEntry } from '../runtime/index.js';
import { type HashJob, runHashJob, type ScanResult } from './hash-jobs.js';
import type { HashRequest, HashResponse } from './hash-worker.js';

/** Idle workers exit after this long without a job (they are started again on demand). */
export const DEFAULT_IDLE_CLOSE_MS = 10_000;
const MAX_THREADS = 8;

export interface HashPoolOptions {
  /** Worker threads (default: one core fewer than available, so the event loop keeps one; at most 8). */
  threads?: number;
  idleCloseMs?: number;
  /** The compiled worker entry; default `hash-worker.js` next to this module. */
  workerUrl?: URL;
}

/** Lists and hashes files off the main thread. */
export interface HashPool {
  readonly threads: number;
  /** Lists directories of `root` ('' for root itself) and hashes their files (see `scanDirs`). */
  scan(root: string, dirs: string[]): Promise<ScanResult>;
  /** The entries of just these paths now, hashed (see `statPaths`). */
  stat(root: string, paths: string[]): Promise<FileEntry[]>;
  /** `sha256:<hex>` (or `unreadable (CODE)`) of each file, in order. */
  hash(paths: string[]): Promise<string[]>;
  /** Stops every worker; jobs not finished are rejected. */
  close(): Promise<void>;
}

interface Pending {
  request: HashRequest;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  job?: Pending;
}

/** A pool of its own (tests, benchmarks); the control plane shares `sharedHashPool()`. */
export function createHashPool(options: HashPoolOptions = {}): HashPool {
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism() - 1, MAX_THREADS));
  const url = options.workerUrl ?? defaultWorkerUrl();
  if (!url) return inThreadPool(threads);
  return new WorkerPool(url, threads, options.idleCloseMs ?? DEFAULT_IDLE_CLOSE_MS);
}

let shared: HashPool | undefined;

/** The process-wide pool, created on first use. */
export function sharedHashPool(): HashPool {
  shared ??= createHashPool();
  return shared;
}

/** The compiled worker next to this module, or undefined when running from TypeScript sources. */
function defaultWorkerUrl(): URL | undefined {
  if (fileURLToPath(import.meta.url).endsWith('.ts')) return undefined;
  return new URL('./hash-worker.js', import.meta.url);
}

/** From TypeScript sources (unit tests) a worker cannot load its entry: run jobs in this thread. */
function inThreadPool(threads: number): HashPool {
  const run = async <T>(job: HashJob) => {
    await new Promise((resolve) => setImmediate(resolve));
    return runHashJob(job) as T;
  };
  return {
    threads,
    scan: (root, dirs) => run<ScanResult>({ kind: 'scan', root, dirs }),
    stat: (root, paths) => run<FileEntry[]>({ kind: 'stat', root, paths }),
    hash: (paths) => run<string[]>({ kind: 'hash', paths }),
    close: async () => {},
  };
}

class WorkerPool implements HashPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: URL,
    readonly threads: number,
    private readonly idleCloseMs: number,
  ) {}

  scan(root: string, dirs: string[]): Promise<ScanResult> {
    return this.submit({ kind: 'scan', root, dirs }) as Promise<ScanResult>;
  }

  stat(root: string, paths: string[]): Promise<FileEntry[]> {
    return this.submit({ kind: 'stat', root, paths }) as Promise<FileEntry[]>;
  }

  hash(paths: string[]): Promise<string[]> {
    return this.submit({ kind: 'hash', paths }) as Promise<string[]>;
  }

  async close(): Promise<void> {
    if (shared === this) shared = undefined;
    this.clearIdleTimer();
    const stopped = new CairnError('hash_pool_closed', 'hashing files: the hash pool was closed');
    for (const pending of this.queue.splice(0)) pending.reject(stopped);
    const slots = this.slots.splice(0);
    for (const slot of slots) slot.job?.reject(stopped);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private submit(job: HashJob): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { id: this.nextId++, job }, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    this.clearIdleTimer();
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => !s.job) ?? this.spawn();
      if (!slot) return;
      slot.job = this.queue.shift()!;
      slot.worker.ref(); // A job in flight keeps the process alive until it is answered.
      slot.worker.postMessage(slot.job.request);
    }
  }

  private spawn(): Slot | undefined {
    if (this.slots.length >= this.threads) return undefined;
    // No inherited node flags: a worker needs none, and some (--input-type, --eval) break it.
    const slot: Slot = { worker: new Worker(this.url, { name: 'cairn-hash', execArgv: [] }) };
    slot.worker.on('message', (response: HashResponse) => this.answered(slot, response));
    slot.worker.on('error', (error) => this.lost(slot, error.message));
    slot.worker.on('exit', (code) => this.lost(slot, `exited with code ${code}`));
    this.slots.push(slot);
    return slot;
  }

  private answered(slot: Slot, response: HashResponse): void {
    const job = slot.job;
    slot.job = undefined;
    slot.worker.unref();
    if (response.ok) job?.resolve(response.result);
    else job?.reject(Object.assign(new Error(response.message), { code: errnoCode(response.message) }));
    this.dispatch();
    if (this.slots.every((s) => !s.job)) this.armIdleTimer();
  }

  /** A worker died: fail its job (never retried: a file that kills a worker would kill the next). */
  private lost(slot: Slot, why: string): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    slot.job?.reject(new CairnError('hash_worker_failed', `hashing files: a worker thread failed: ${why}`));
    this.dispatch();
  }

  private armIdleTimer(): void {
    this.clearIdleTimer();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      // Only a pool with nothing to do lets its workers go; a job would keep its worker.
      if (this.queue.length > 0 || this.slots.some((s) => s.job)) return;
      for (const slot of this.slots.splice(0)) void slot.worker.terminate();
    }, this.idleCloseMs);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

/** `ENOENT: no such file…` → `ENOENT`, so callers can branch on the code as with fs errors. */
function errnoCode(message: string): string | undefined {
  return /^(E[A-Z]+):/.exec(message)?.[1];
}
