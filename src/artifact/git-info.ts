/** What git says about the spec's folder: the commit (with `-dirty`) and the origin URL, when known. */
import { execFileSync } from 'node:child_process';
import { ANNOTATION } from './oci.js';

function git(dir: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', ['-C', dir, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/**
 * `org.opencontainers.image.revision` and `.source` for a folder. The revision is the commit of
 * the repository holding it, with `-dirty` when files under that folder differ from the commit
 * (changes elsewhere in the repository do not affect the image, so they do not mark it dirty).
 */
export function gitAnnotations(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  // One call gives both the commit (`# branch.oid`) and whether anything under `dir` changed.
  const status = git(dir, ['status', '--porcelain=v2', '--branch', '--untracked-files=normal', '--', '.']);
  const commit = status ? /^# branch\.oid ([0-9a-f]{40,64})$/m.exec(status)?.[1] : undefined;
  if (commit) {
    const dirty = status!.split('\n').some((line) => line !== '' && !line.startsWith('#'));
    out[ANNOTATION.revision] = dirty ? `${commit}-dirty` : commit;
  }
  const origin = git(dir, ['config', '--get', 'remote.origin.url']);
  if (origin) out[ANNOTATION.source] = origin.replace(/\/\/[^@/]*@/, '//');
  return out;
}
