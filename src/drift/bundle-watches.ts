/**
 * The fast path of the drift loop: one filesystem watch per bundle that live instances run on, so
 * a change to a bundle starts a check at once instead of at the next interval. Events are hints;
 * the periodic full check does not depend on them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { digestHex } from '../lib/index.js';
import { type TreeWatcher, watchTree } from './watch.js';

export type WatchTree = typeof watchTree;

export interface BundleWatchesConfig {
  bundlesDir: string;
  /** Called with the image digest whose bundle changed, and the changed path inside its rootfs. */
  onChange: (imageDigest: string, path: string) => void;
  /** Called once per bundle whose events cannot be delivered (e.g. the inotify watch limit). */
  onError?: (imageDigest: string, error: Error) => void;
  watch?: WatchTree;
}

/** The set of watched bundles, kept in step with the live instances by `sync`. */
export class BundleWatches {
  private readonly watchers = new Map<string, TreeWatcher>();

  constructor(private readonly config: BundleWatchesConfig) {}

  /** Watches the bundles of `imageDigests` and stops watching every other one. */
  sync(imageDigests: Set<string>): void {
    for (const [digest, watcher] of this.watchers) {
      if (imageDigests.has(digest)) continue;
      watcher.close();
      this.watchers.delete(digest);
    }
    for (const digest of imageDigests) if (!this.watchers.has(digest)) this.add(digest);
  }

  /** Stops watching one bundle (before it is moved aside); the next `sync` watches the new one. */
  forget(imageDigest: string): void {
    this.watchers.get(imageDigest)?.close();
    this.watchers.delete(imageDigest);
  }

  /** How many bundles are watched. */
  get size(): number {
    return this.watchers.size;
  }

  close(): void {
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private add(digest: string): void {
    const rootfs = join(this.config.bundlesDir, digestHex(digest), 'rootfs');
    const watch = this.config.watch ?? watchTree;
    if (!existsSync(rootfs)) return; // Not unpacked (yet): watched on a later sync.
    try {
      const watcher = watch(rootfs, (path) => this.config.onChange(digest, path), {
        onError: (error) => this.config.onError?.(digest, error),
      });
      this.watchers.set(digest, watcher);
    } catch (error) {
      this.config.onError?.(digest, error as Error);
    }
  }
}
