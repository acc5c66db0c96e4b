/**
 * Lists and hashes a bundle's rootfs now, in files.json's shape, without changing anything: the
 * observation side of the file check (the full verification, which trusts no filesystem event).
 * Listing and hashing run in the hash pool's worker threads, directory by directory as they are
 * found, so every worker both walks and hashes; this thread only hands out work and merges.
 */
import { join } from 'node:path';
import type { FileEntry } from '../runtime/index.js';
import { type HashPool, sharedHashPool } from './hash-pool.js';

/** Jobs handed to the pool per worker: one running, one queued, so no worker waits for this thread. */
const JOBS_PER_THREAD = 2;
const MAX_DIRS_PER_JOB = 64;

/**
 * Every entry under `root` as the instance sees it (`/app/server.js`), sorted by path, each regular
 * file with the sha256 of its bytes now. A device, fifo or socket gets the digest
 * `not-a-regular-file`, a file that cannot be read `unreadable (<code>)`: neither matches a manifest.
 */
export function listRootfs(root: string, pool: HashPool = sharedHashPool()): Promise<FileEntry[]> {
  return new RootfsScan(root, pool).run();
}

/**
 * The fast path's look at a few paths an event named (e.g. `/app/server.js`): their entries now,
 * hashed, sorted by path; a path that no longer exists is left out (so it compares as removed).
 *
 * @example
 * ```ts
 * const now = await observePaths(rootfs, ['/app/server.js']);
 * ```
 */
export function observePaths(
  root: string,
  paths: string[],
  pool: HashPool = sharedHashPool(),
): Promise<FileEntry[]> {
  return pool.stat(root, paths);
}

/** One full verification: a breadth-first scan whose frontier is shared out among the workers. */
class RootfsScan {
  private readonly runs: FileEntry[][] = [];
  private readonly dirs: string[] = [''];
  /** Big files found by a scan, hashed one per job so they spread over the workers. */
  private readonly large: FileEntry[] = [];
  private inFlight = 0;
  private settled = false;
  private resolve!: (entries: FileEntry[]) => void;
  private reject!: (error: Error) => void;

  constructor(
    private readonly root: string,
    private readonly pool: HashPool,
  ) {}

  run(): Promise<FileEntry[]> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.pump();
    });
  }

  private pump(): void {
    const capacity = this.pool.threads * JOBS_PER_THREAD;
    while (!this.settled && this.inFlight < capacity && (this.dirs.length > 0 || this.large.length > 0)) {
      const big = this.large.shift();
      if (big) this.launch(this.hashLarge(big));
      else this.launch(this.scan(this.dirs.splice(0, this.share(capacity))));
    }
    if (this.inFlight === 0 && !this.settled) {
      this.settled = true;
      // Each run is sorted already: the sort merges runs rather than sorting from scratch.
      this.resolve(this.runs.flat().sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)));
    }
  }

  /** How many of the waiting directories one job takes: an even share, at least one. */
  private share(capacity: number): number {
    return Math.min(MAX_DIRS_PER_JOB, Math.max(1, Math.ceil(this.dirs.length / capacity)));
  }

  private launch(work: Promise<void>): void {
    this.inFlight++;
    work.then(
      () => {
        this.inFlight--;
        this.pump();
      },
      (error: Error) => {
        if (this.settled) return;
        this.settled = true;
        this.reject(error);
      },
    );
  }

  private async scan(dirs: string[]): Promise<void> {
    const found = await this.pool.scan(this.root, dirs);
    this.runs.push(found.entries);
    this.dirs.push(...found.dirs);
    // The same objects as in `found.entries` (a message keeps shared references): set in place.
    this.large.push(...found.large);
  }

  private async hashLarge(entry: FileEntry): Promise<void> {
    const [digest] = await this.pool.hash([join(this.root, entry.path)]);
    entry.digest = digest;
  }
}
