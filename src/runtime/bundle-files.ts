/**
 * The file manifest of a bundle: every path's type, mode, size and content digest, sorted by path.
 * Drift detection compares a running instance's view against it. Sealing happens in the same walk:
 * folders lose their write bits once their contents are listed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleDirMode } from './layer-entry.js';
import type { FileEntry } from './types.js';

const DEFAULT_DIR_MODE = 0o755;

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Lists every entry under `root` (paths as the instance sees them, e.g. `/usr/bin/node`) and makes
 * each folder read-only with its image mode from `dirModes` (root-relative keys).
 */
export async function sealAndList(
  root: string,
  dirModes: Map<string, number>,
  exact: ReadonlySet<string> = new Set(),
): Promise<FileEntry[]> {
  const entries: FileEntry[] = [];
  await walk(root, '', { dirModes, exact }, entries);
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Folder modes by root-relative path; those in `exact` (mount points) keep theirs unsealed. */
interface DirModes {
  dirModes: Map<string, number>;
  exact: ReadonlySet<string>;
}

async function walk(root: string, rel: string, modes: DirModes, out: FileEntry[]): Promise<void> {
  const dir = join(root, rel);
  for (const name of await readdir(dir)) {
    const childRel = rel ? `${rel}/${name}` : name;
    const full = join(root, childRel);
    const stat = await lstat(full);
    const path = `/${childRel}`;
    if (stat.isDirectory()) {
      await walk(root, childRel, modes, out);
      out.push({ path, type: 'dir', mode: sealedMode(modes, childRel), size: 0 });
    } else if (stat.isSymbolicLink()) {
      out.push({ path, type: 'symlink', mode: 0o777, size: 0, target: await readlink(full) });
    } else if (stat.isFile()) {
      out.push({
        path,
        type: 'file',
        mode: stat.mode & 0o7777,
        size: stat.size,
        digest: await fileDigest(full),
      });
    }
  }
  if (rel !== '') await chmod(dir, sealedMode(modes, rel));
}

function sealedMode({ dirModes, exact }: DirModes, rel: string): number {
  const mode = dirModes.get(rel) ?? DEFAULT_DIR_MODE;
  // A mount point is covered by its mount in every instance; its mode becomes the mount's.
  return exact.has(rel) ? mode : bundleDirMode(mode);
}
