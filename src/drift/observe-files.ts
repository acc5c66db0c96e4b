/**
 * Lists and hashes a bundle's rootfs now, in files.json's shape, without changing anything: the
 * observation side of the file check. Files are hashed a few at a time (I/O overlaps hashing).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileEntry } from '../runtime/index.js';

const HASH_CONCURRENCY = 8;
/** The digest given to a device, fifo or socket: it matches no manifest entry. */
const SPECIAL = 'not-a-regular-file';

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** Every entry under `root` as the instance sees it (`/app/server.js`), sorted by path. */
export async function listRootfs(root: string): Promise<FileEntry[]> {
  const entries: FileEntry[] = [];
  const toHash: FileEntry[] = [];
  await walk(root, '', entries, toHash);
  await hashAll(root, toHash);
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function walk(root: string, rel: string, out: FileEntry[], toHash: FileEntry[]): Promise<void> {
  for (const name of await readdir(join(root, rel))) {
    const childRel = rel ? `${rel}/${name}` : name;
    const full = join(root, childRel);
    const stat = await lstat(full);
    const path = `/${childRel}`;
    if (stat.isDirectory()) {
      out.push({ path, type: 'dir', mode: stat.mode & 0o7777, size: 0 });
      await walk(root, childRel, out, toHash);
    } else if (stat.isSymbolicLink()) {
      out.push({ path, type: 'symlink', mode: 0o777, size: 0, target: await readlink(full) });
    } else if (stat.isFile()) {
      const entry: FileEntry = { path, type: 'file', mode: stat.mode & 0o7777, size: stat.size };
      out.push(entry);
      toHash.push(entry);
    } else {
      // Devices, fifos and sockets are never unpacked into a bundle: one that appears is drift.
      out.push({ path, type: 'file', mode: stat.mode & 0o7777, size: 0, digest: SPECIAL });
    }
  }
}

async function hashAll(root: string, entries: FileEntry[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const entry = entries[next++]!;
      entry.digest = await fileDigest(join(root, entry.path));
    }
  };
  await Promise.all(Array.from({ length: HASH_CONCURRENCY }, worker));
}
