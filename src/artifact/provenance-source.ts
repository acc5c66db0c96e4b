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

/** The commit checked out where `file` lives, and whether the tree is dirty; undefined outside git. */
export function gitSourceOf(file: string): { commit: string; dirty: boolean; root: string } | undefined {
  const cwd = dirname(file);
  const commit = git(cwd, ['rev-parse', 'HEAD']);
  const root = git(cwd, ['rev-parse', '--show-toplevel']);
  if (!commit || !root) return undefined;
  return { commit, dirty: (git(cwd, ['status', '--porcelain']) ?? '') !== '', root };
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
