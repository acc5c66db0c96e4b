/** Where a build came from, read at the edge: the git commit of the spec's folder and file digests. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { sha256Digest } from '../lib/index.js';

function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

export interface GitSource {
  commit: string;
  /** The work tree had uncommitted changes. */
  dirty: boolean;
  root: string;
  /** `remote.origin.url` without credentials, when set. */
  origin?: string;
}

/**
 * The commit checked out where `file` lives, whether the tree is dirty, and the origin URL;
 * undefined outside git. These go into provenance and the SBOM, never into the image: the
 * image's digest depends on its inputs only, so a commit elsewhere in the repository keeps it.
 */
export function gitSourceOf(file: string): GitSource | undefined {
  const cwd = dirname(file);
  const commit = git(cwd, ['rev-parse', 'HEAD']);
  const root = git(cwd, ['rev-parse', '--show-toplevel']);
  if (!commit || !root) return undefined;
  const origin = git(cwd, ['config', '--get', 'remote.origin.url'])?.replace(/\/\/[^@/]*@/, '//');
  const dirty = (git(cwd, ['status', '--porcelain']) ?? '') !== '';
  return { commit, dirty, root, ...(origin ? { origin } : {}) };
}

/** How a file is named in provenance: relative to the repository root (never an absolute path). */
export function repoRelativePath(file: string, root: string | undefined): string {
  return root ? relative(root, file) : file.split('/').slice(-2).join('/');
}

export function fileDigest(file: string): string | undefined {
  try {
    return sha256Digest(readFileSync(file));
  } catch {
    return undefined;
  }
}
