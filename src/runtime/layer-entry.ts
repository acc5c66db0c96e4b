/**
 * How one tar entry of an OCI layer changes the root filesystem: a plain entry, a whiteout that
 * deletes a path from lower layers, or an opaque whiteout that hides a directory's lower contents.
 * Pure; every path is normalised and may never leave the root.
 */
import { IntegrityError } from '../lib/index.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

export type LayerAction =
  | { kind: 'entry'; path: string }
  | { kind: 'whiteout'; path: string }
  | { kind: 'opaque'; dir: string };

/**
 * Normalises a tar entry name to a root-relative path (`usr/bin/node`, `''` for the root itself).
 * Refuses any name that would climb out of the root.
 */
export function normalizeEntryPath(name: string): string {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new IntegrityError(`unpacking layer entry "${name}": the path leaves the root filesystem`, {
        hint: 'the image is malformed or hostile; rebuild it with `cairn build`',
      });
    }
    parts.push(part);
  }
  return parts.join('/');
}

/** Classifies one tar entry name. */
export function classifyEntry(name: string): LayerAction {
  const path = normalizeEntryPath(name);
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '' : path.slice(0, slash);
  const base = path.slice(slash + 1);
  if (base === OPAQUE_WHITEOUT) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    if (hidden === '' || hidden === '.' || hidden === '..') {
      throw new IntegrityError(`unpacking layer entry "${name}": a whiteout must name a file`);
    }
    return { kind: 'whiteout', path: dir ? `${dir}/${hidden}` : hidden };
  }
  return { kind: 'entry', path };
}

/** Whether `path` lies strictly inside `dir` (both root-relative; `''` is the root). */
export function isInside(path: string, dir: string): boolean {
  if (dir === '') return path !== '';
  return path.startsWith(`${dir}/`);
}

/**
 * The on-disk mode a bundle file gets: the image's permission bits without write, setuid, setgid
 * or sticky bits — bundles are shared and must stay exactly as unpacked.
 */
export function bundleMode(tarMode: number): number {
  return tarMode & 0o555;
}

/**
 * The on-disk mode a bundle folder gets: no owner write (the bundle's owner is cairn), no setuid or
 * setgid, but group/other write and sticky bits stay — runc gives a tmpfs mounted on a folder that
 * folder's mode, so `/tmp` (1777 in the image) must stay world-writable for its tmpfs to be. The
 * folders themselves are reachable only through the workspace's private parents.
 */
export function bundleDirMode(tarMode: number): number {
  return tarMode & 0o1577;
}
