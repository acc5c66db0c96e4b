/**
 * Rebuilding a shared bundle that was altered: the altered folder is moved aside (instances still
 * running on it keep their root, since a rename keeps every inode) and a verified spare is renamed
 * into its place, or, without one, the image is unpacked again from its verified blobs. Moved-aside folders are removed once no instance started before the
 * rebuild is live any more.
 */
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex } from '../lib/index.js';
import type { StateReader } from '../state/index.js';
import type { BundleSpares } from './spares.js';

/** Moved-aside bundles are named `.drifted-<hex of the image digest>-<time>`. */
const RETIRED_PREFIX = '.drifted-';

export interface BundleDirs {
  /** `.cairn/store`: the verified blobs. */
  storeDir: string;
  /** `.cairn/bundles`. */
  bundlesDir: string;
}

/** A bundle moved aside, and when. */
export interface RetiredBundle {
  dir: string;
  imageDigest: string;
  atIso: string;
}

/** Unpacks an image's bundle from its verified blobs into `bundlesDir`. */
export type PrepareBundle = (job: { storeDir: string; bundlesDir: string; digest: string }) => Promise<void>;

/** Where the clean bundle came from: a verified spare renamed into place, or a fresh unpack. */
export type RebuiltFrom = 'spare' | 'verified blobs';

/**
 * Moves the altered bundle of `imageDigest` aside and puts a clean one in its place: the ready
 * spare when there is one (one rename), otherwise the image unpacked again from verified blobs.
 */
export async function rebuildBundle(
  dirs: BundleDirs,
  imageDigest: string,
  at: Date,
  prepare: PrepareBundle,
  spares?: Pick<BundleSpares, 'moveInto'>,
): Promise<RetiredBundle & { from: RebuiltFrom }> {
  const hex = digestHex(imageDigest);
  const live = join(dirs.bundlesDir, hex);
  const retired = join(dirs.bundlesDir, `${RETIRED_PREFIX}${hex}-${at.getTime()}`);
  await rename(live, retired);
  let from: RebuiltFrom = 'spare';
  if (!(await spares?.moveInto(imageDigest, live))) {
    from = 'verified blobs';
    await prepare({ storeDir: dirs.storeDir, bundlesDir: dirs.bundlesDir, digest: imageDigest });
  }
  return { dir: retired, imageDigest, atIso: at.toISOString(), from };
}

/** Removes moved-aside bundles no live instance can still run on; returns the ones kept. */
export async function sweepRetired(store: StateReader, retired: RetiredBundle[]): Promise<RetiredBundle[]> {
  const kept: RetiredBundle[] = [];
  for (const r of retired) {
    const stillOnIt = store
      .listInstances({ live: true })
      .some((i) => i.identity.imageDigest === r.imageDigest && i.createdAt <= r.atIso);
    if (stillOnIt) kept.push(r);
    else await rm(r.dir, { recursive: true, force: true }).catch(() => kept.push(r));
  }
  return kept;
}

/** Moved-aside bundles left by an earlier run of the control plane (removed on start when unused). */
export async function findRetired(bundlesDir: string): Promise<RetiredBundle[]> {
  const names = await readdir(bundlesDir).catch(() => [] as string[]);
  return names.flatMap((name) => {
    const m = /^\.drifted-([0-9a-f]{64})-(\d+)$/.exec(name);
    if (!m) return [];
    const atIso = new Date(Number(m[2])).toISOString();
    return [{ dir: join(bundlesDir, name), imageDigest: `sha256:${m[1]}`, atIso }];
  });
}
