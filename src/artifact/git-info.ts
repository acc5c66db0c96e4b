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
  const commit = git(dir, ['rev-parse', 'HEAD']);
  if (commit) {
    const status = git(dir, ['status', '--porcelain', '--', '.']);
    out[ANNOTATION.revision] = status ? `${commit}-dirty` : commit;
  }
  const origin = git(dir, ['config', '--get', 'remote.origin.url']);
  if (origin) out[ANNOTATION.source] = origin.replace(/\/\/[^@/]*@/, '//');
  return out;
}
