/**
 * Reads the build context: the files matching `include` and not `exclude`, checked for the
 * problems a user can fix (missing context, a glob matching nothing, an unreadable file, a
 * symlink leaving the context), as layer entries under the image working directory.
 */
import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join, posix, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { CairnError, NotFoundError, ValidationError } from '../lib/index.js';
import { readContainedFile } from '../spec/index.js';
import type { LayerEntry } from './tar-layer.js';

/** Never part of the application layer: VCS data, the workspace, and dependencies (their own layer). */
export const ALWAYS_EXCLUDED = ['.git/**', '.cairn/**', 'node_modules/**'];

const SKIPPED_DIRS = ['.git', '.cairn', 'node_modules'];

export interface ContextSelection {
  context: string;
  include: string[];
  exclude: string[];
}

/** Context-relative paths (posix, sorted) of the files the selection picks. */
export function selectContextFiles(sel: ContextSelection): string[] {
  const root = realContext(sel.context);
  const all = walk(root);
  const excluded = picomatch([...ALWAYS_EXCLUDED, ...sel.exclude], { dot: true });
  const candidates = all.filter((p) => !excluded(p));
  const picked = new Set<string>();
  for (const glob of sel.include) {
    const isMatch = picomatch(glob, { dot: true });
    const matches = candidates.filter((p) => isMatch(p));
    if (matches.length === 0) {
      throw new ValidationError(`selecting files in ${sel.context}: no file matches include "${glob}"`, [], {
        hint: 'fix the glob in build.include, or add the file it should match',
      });
    }
    for (const m of matches) picked.add(m);
  }
  return [...picked].sort();
}

/** Reads the selected files as entries under `workdir`; symlinks stay links and must stay inside. */
export function contextEntries(context: string, files: string[], workdir: string): LayerEntry[] {
  const root = realpathSync(context);
  const base = workdir.replace(/^\/+/, '');
  return files.map((rel) => {
    const full = join(root, ...rel.split('/'));
    const path = posix.join(base, rel);
    const st = lstatSync(full);
    if (st.isSymbolicLink())
      return { path, type: 'symlink', mode: 0o777, linkname: checkLink(root, full, rel) };
    return { path, type: 'file', mode: st.mode, data: readSource(root, full, rel) };
  });
}

/**
 * Reads a file of a build context (a real path): opened without following a symlink and checked
 * to be inside the context at the moment of reading, so a file swapped for a link to a host file
 * after the walk is refused, not baked in.
 */
export function readSource(context: string, full: string, shown: string): Buffer {
  try {
    return readContainedFile(context, full, { shownAs: shown, within: 'the build context' });
  } catch (error) {
    if (!(error instanceof CairnError)) throw error;
    throw new ValidationError(error.message, [], {
      hint: 'make the file readable by the user running cairn build and keep it inside the context, or exclude it',
      cause: error,
    });
  }
}

/** The real path of a build context folder. */
export function realContext(context: string): string {
  try {
    if (statSync(context).isDirectory()) return realpathSync(context);
  } catch {
    // reported below
  }
  throw new NotFoundError(`reading the build context ${context}: no such folder`, {
    hint: 'set build.context in cairn.yaml to a folder next to it',
  });
}

function checkLink(root: string, full: string, rel: string): string {
  const link = readlinkSync(full);
  let target: string;
  try {
    target = realpathSync(full);
  } catch {
    target = resolve(full, '..', link);
  }
  const inside = target === root || target.startsWith(root + sep);
  if (!inside || link.startsWith('/')) {
    throw new ValidationError(`reading ${rel}: the symlink points outside the build context (${link})`, [], {
      hint: 'copy the file into the context, or make the link relative and inside it',
    });
  }
  return link;
}

function walk(root: string, dir = root): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    const rel = relative(root, full).split(sep).join('/');
    if (entry.isDirectory() && dir === root && SKIPPED_DIRS.includes(entry.name)) continue;
    if (entry.isDirectory()) out.push(...walk(root, full));
    else if (entry.isFile() || entry.isSymbolicLink()) out.push(rel);
  }
  return out;
}
