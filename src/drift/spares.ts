/**
 * Spare bundles: a pristine copy of each live bundle, unpacked from verified blobs off the main
 * thread into `.cairn/bundles/.spare/<hex>`, watched and then hashed whole, so an altered live bundle is replaced by
 * one rename instead of a 5–10 s unpack. Any event on a spare discards it (it is unpacked again);
 * spares left by an earlier run are not trusted and removed on start. Doubles the disk per image.
 */
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, sha256Digest } from '../lib/index.js';
import type { FileEntry } from '../runtime/index.js';
import type { PrepareBundle } from './bundle-rebuild.js';
import { compareFiles } from './compare-files.js';
import { listRootfs } from './observe-files.js';
import { type TreeWatcher, watchTree } from './watch.js';

/** The folder of the spares, inside `.cairn/bundles` (same filesystem: a rename is atomic). */
export const SPARES_DIR = '.spare';
/** A spare used up is prepared again this long after, so unpacking does not slow the replacements. */
export const DEFAULT_REFILL_DELAY_MS = 5000;
/**
 * A spare that could not be unpacked (a full disk, most often) is tried again only after this,
 * doubled at each failure in a row up to `FAILED_RETRY_MAX_MS`: a spare is a nicety, and
 * unpacking and removing one in a loop would churn a full disk and make its free space flap.
 */
export const DEFAULT_FAILED_RETRY_MS = 60_000;
export const FAILED_RETRY_MAX_MS = 30 * 60_000;

export interface BundleSparesConfig {
  storeDir: string;
  bundlesDir: string;
  watch?: typeof watchTree;
  /** Unpacks `digest` under `bundlesDir` (the control plane does it off the event loop). */
  prepare: PrepareBundle;
  refillDelayMs?: number;
  failedRetryMs?: number;
  /** Whether a bundle folder is exactly its manifest now; `matchesManifest` unless a test gives another. */
  verify?: (dir: string) => Promise<boolean>;
  log?: (line: Record<string, unknown>) => void;
}

interface Spare {
  state: 'preparing' | 'ready' | 'discarded';
  watcher?: TreeWatcher;
}

/** The spares of the images live instances run on, kept in step by `sync`. */
export class BundleSpares {
  private readonly spares = new Map<string, Spare>();
  /** When a spare was last used up, by image digest: it is prepared again only after the delay. */
  private readonly usedAt = new Map<string, number>();
  /** Unpacks that failed in a row, and when the last one did, by image digest. */
  private readonly failed = new Map<string, { count: number; at: number }>();
  /** The last unpack or removal of each spare folder: the next one waits for it (same path). */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly dir: string;
  private cleared: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly config: BundleSparesConfig) {
    this.dir = join(config.bundlesDir, SPARES_DIR);
  }

  /** Removes spares left by an earlier run: they may have been altered while nobody watched. */
  start(): Promise<void> {
    this.cleared ??= rm(this.dir, { recursive: true, force: true });
    return this.cleared;
  }

  /** Prepares a spare for each of `imageDigests` that has none and drops every other one. */
  sync(imageDigests: Set<string>, nowMs = Date.now()): void {
    if (this.closed) return;
    for (const digest of [...this.spares.keys()]) if (!imageDigests.has(digest)) this.discard(digest);
    const delayMs = this.config.refillDelayMs ?? DEFAULT_REFILL_DELAY_MS;
    for (const digest of imageDigests) {
      if (this.spares.has(digest) || nowMs - (this.usedAt.get(digest) ?? -Infinity) < delayMs) continue;
      if (this.backingOff(digest, nowMs)) continue;
      this.prepare(digest);
    }
  }

  /** Whether a verified, watched spare of `imageDigest` is ready to be swapped in. */
  ready(imageDigest: string): boolean {
    return this.spares.get(imageDigest)?.state === 'ready';
  }

  /**
   * Renames the ready spare of `imageDigest` to `dest` (one atomic rename); false when there is no
   * ready spare, so the caller unpacks from the blobs instead.
   */
  async moveInto(imageDigest: string, dest: string): Promise<boolean> {
    const spare = this.spares.get(imageDigest);
    if (spare?.state !== 'ready') return false;
    spare.watcher?.close();
    this.spares.delete(imageDigest);
    this.usedAt.set(imageDigest, Date.now());
    try {
      await rename(this.pathOf(imageDigest), dest);
      return true;
    } catch (error) {
      this.config.log?.({
        msg: 'using a spare bundle failed',
        image: imageDigest,
        error: (error as Error).message,
      });
      return false;
    }
  }

  /** Stops every watch and waits for the unpacking under way (its result is then removed). */
  async close(): Promise<void> {
    this.closed = true;
    for (const digest of [...this.spares.keys()]) this.discard(digest);
    await Promise.allSettled([...this.tails.values()]);
  }

  private backingOff(digest: string, nowMs: number): boolean {
    const f = this.failed.get(digest);
    if (!f) return false;
    const waitMs = Math.min(
      FAILED_RETRY_MAX_MS,
      (this.config.failedRetryMs ?? DEFAULT_FAILED_RETRY_MS) * 2 ** (f.count - 1),
    );
    return nowMs - f.at < waitMs;
  }

  private pathOf(imageDigest: string): string {
    return join(this.dir, digestHex(imageDigest));
  }

  private prepare(digest: string): void {
    const spare: Spare = { state: 'preparing' };
    this.spares.set(digest, spare);
    const { prepare } = this.config;
    this.after(digest, () =>
      prepare({ storeDir: this.config.storeDir, bundlesDir: this.dir, digest }).then(
        () => this.watchSpare(digest, spare),
        (error: Error) => {
          const count = (this.failed.get(digest)?.count ?? 0) + 1;
          this.failed.set(digest, { count, at: Date.now() });
          this.config.log?.({ msg: 'preparing a spare bundle failed', image: digest, error: error.message });
          this.discard(digest);
        },
      ),
    );
  }

  /** Runs `step` once the start-up clean-up and the previous step on this spare's folder are done. */
  private after(digest: string, step: () => Promise<void>): void {
    const tail = (this.tails.get(digest) ?? this.start()).then(step, step);
    this.tails.set(digest, tail);
    void tail.finally(() => {
      if (this.tails.get(digest) === tail) this.tails.delete(digest);
    });
  }

  /** A spare is ready once every folder of it is watched; any event from then on discards it. */
  private watchSpare(digest: string, spare: Spare): void {
    if (spare.state === 'discarded' || this.closed) {
      this.after(digest, () => rm(this.pathOf(digest), { recursive: true, force: true }));
      return;
    }
    const watch = this.config.watch ?? watchTree;
    const discard = () => {
      if (this.spares.get(digest) === spare) this.discard(digest);
    };
    spare.watcher = watch(join(this.pathOf(digest), 'rootfs'), discard, {
      onError: discard,
      onReady: () => void this.verifyWatched(digest, spare),
    });
  }

  /**
   * Once watched, the spare is hashed whole against its manifest: a change made before the watch
   * was set up shows there, one made after fires the watch. Only then is it ready.
   */
  private async verifyWatched(digest: string, spare: Spare): Promise<void> {
    const intact = await (this.config.verify ?? matchesManifest)(this.pathOf(digest)).catch(() => false);
    if (spare.state !== 'preparing') return;
    if (intact) {
      spare.state = 'ready';
      this.failed.delete(digest);
    } else this.discard(digest);
  }

  /** Forgets a spare and removes its folder (an unpack under way removes its own when it ends). */
  private discard(digest: string): void {
    const spare = this.spares.get(digest);
    if (!spare) return;
    const wasPreparing = spare.state === 'preparing' && !spare.watcher;
    spare.state = 'discarded';
    spare.watcher?.close();
    this.spares.delete(digest);
    if (!wasPreparing) this.after(digest, () => rm(this.pathOf(digest), { recursive: true, force: true }));
  }
}

/** Whether the bundle in `dir` is exactly its files.json, and files.json the one bundle.json names. */
export async function matchesManifest(dir: string): Promise<boolean> {
  const record = JSON.parse(await readFile(join(dir, 'bundle.json'), 'utf8')) as { filesDigest?: string };
  const bytes = await readFile(join(dir, 'files.json'));
  if (sha256Digest(bytes) !== record.filesDigest) return false;
  const manifest = JSON.parse(bytes.toString('utf8')) as FileEntry[];
  return compareFiles(manifest, await listRootfs(join(dir, 'rootfs'))).length === 0;
}
