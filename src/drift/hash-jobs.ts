/**
 * The work a hash worker does: scan directories of a rootfs and hash files, synchronously — a
 * worker thread has nothing else to do, and synchronous calls cost a fraction of promise-per-file
 * ones. Never run these on the control plane's main thread except in tests (see `hash-pool.ts`).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import type { FileEntry } from '../runtime/index.js';

/** The digest given to a device, fifo or socket: it matches no manifest entry. */
export const SPECIAL_DIGEST = 'not-a-regular-file';
const READ_CHUNK_BYTES = 1 << 20;
/**
 * Never follow a symlink swapped in between listing and hashing, and never block on a fifo swapped
 * in: such a path is reported unreadable instead.
 */
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** Files larger than this are not hashed while scanning but returned, to be spread over workers. */
export const LARGE_FILE_BYTES = 4 << 20;

/** One job for a worker: scan directories (list, hash their files), observe given paths, hash files. */
export type HashJob =
  | { kind: 'scan'; root: string; dirs: string[] }
  | { kind: 'stat'; root: string; paths: string[] }
  | { kind: 'hash'; paths: string[] };

/** What scanning some directories found. */
export interface ScanResult {
  /** Their entries, sorted by path; regular files hashed, except `large` ones. */
  entries: FileEntry[];
  /** Subdirectories to scan next (root-relative, leading '/'). */
  dirs: string[];
  /** Entries of files over `LARGE_FILE_BYTES`, still without a digest. */
  large: FileEntry[];
}

/** Runs one job: a scan returns a `ScanResult`, a stat `FileEntry[]`, a hash one digest per path. */
export function runHashJob(job: HashJob): ScanResult | FileEntry[] | string[] {
  if (job.kind === 'scan') return scanDirs(job.root, job.dirs);
  if (job.kind === 'stat') return statPaths(job.root, job.paths);
  return job.paths.map(hashFile);
}

/**
 * Lists the directories `dirs` of `root` ('' is root itself) as the instance sees them
 * (`/app/server.js`), without descending. An entry removed while scanning is left out (the
 * comparison then reports it removed); only an unreadable `root` is an error.
 */
export function scanDirs(root: string, dirs: string[]): ScanResult {
  const result: ScanResult = { entries: [], dirs: [], large: [] };
  for (const rel of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(join(root, rel));
    } catch (error) {
      if (rel === '') throw error;
      continue;
    }
    for (const name of names) scanEntry(root, `${rel}/${name}`, result, LARGE_FILE_BYTES);
  }
  result.entries.sort(byPath);
  return result;
}

/**
 * The entries of just these paths (e.g. `/app/server.js`) as they are now, hashed, sorted by path;
 * a path that does not exist is left out. A directory's entry only, not its contents.
 */
export function statPaths(root: string, paths: string[]): FileEntry[] {
  const result: ScanResult = { entries: [], dirs: [], large: [] };
  for (const path of new Set(paths)) scanEntry(root, path, result, Number.POSITIVE_INFINITY);
  return result.entries.sort(byPath);
}

function byPath(a: FileEntry, b: FileEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function scanEntry(root: string, path: string, result: ScanResult, largeBytes: number): void {
  const full = join(root, path);
  const stat = fs.lstatSync(full, { throwIfNoEntry: false });
  if (!stat) return;
  const mode = stat.mode & 0o7777;
  if (stat.isDirectory()) {
    result.entries.push({ path, type: 'dir', mode, size: 0 });
    result.dirs.push(path);
  } else if (stat.isSymbolicLink()) {
    const target = readlinkOrUndefined(full);
    if (target !== undefined) result.entries.push({ path, type: 'symlink', mode: 0o777, size: 0, target });
  } else if (stat.isFile()) {
    const entry: FileEntry = { path, type: 'file', mode, size: stat.size };
    if (stat.size > largeBytes) result.large.push(entry);
    else entry.digest = hashFile(full);
    result.entries.push(entry);
  } else {
    // Devices, fifos and sockets are never unpacked into a bundle: one that appears is drift.
    result.entries.push({ path, type: 'file', mode, size: 0, digest: SPECIAL_DIGEST });
  }
}

/** A symlink removed since it was listed has no target: it is left out, like any removed entry. */
function readlinkOrUndefined(path: string): string | undefined {
  try {
    return fs.readlinkSync(path);
  } catch {
    return undefined;
  }
}

let scratch: Buffer | undefined;

/**
 * `sha256:<hex>` of a file's bytes now; a file that cannot be read (removed, or swapped for a
 * symlink since it was listed) gets `unreadable (<code>)`, which matches no manifest digest.
 */
export function hashFile(path: string): string {
  scratch ??= Buffer.allocUnsafe(READ_CHUNK_BYTES);
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, OPEN_FLAGS);
    const hash = createHash('sha256');
    for (let n = fs.readSync(fd, scratch); n > 0; n = fs.readSync(fd, scratch)) {
      hash.update(scratch.subarray(0, n));
    }
    return `sha256:${hash.digest('hex')}`;
  } catch (error) {
    return `unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
