/**
 * Containment of the paths a spec names: every file and folder cairn.yaml points at must lie, once
 * symlinks are followed, inside the project folder. Pure: the one outside question (where a path
 * really leads) is a function passed in, so the rule can be tested without a file system.
 */
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** Names the folder paths in cairn.yaml must stay in, instead of the folder of cairn.yaml (which it must contain). */
export const PROJECT_ROOT_ENV = 'CAIRN_PROJECT_ROOT';

/** The real path of an existing path (symlinks followed), or undefined when nothing is there. */
export type RealPath = (absolute: string) => string | undefined;

/** Whether `target` is `root` or lies below it; both absolute and normalised. */
export function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Where an absolute path really leads: the real path of its deepest part that exists, with the
 * rest appended. A path that does not exist yet still cannot hide an escape behind a symlinked folder.
 */
export function realTarget(absolute: string, realpath: RealPath): string {
  const rest: string[] = [];
  for (let at = resolve(absolute); ; at = dirname(at)) {
    const real = realpath(at);
    if (real !== undefined) return join(real, ...rest.reverse());
    if (dirname(at) === at) return resolve(absolute);
    rest.push(at.slice(dirname(at).length).replace(/^\/+/, ''));
  }
}

/**
 * Where `rel` (relative to `base`) leads when that is outside `root` (a real path), or undefined
 * when it stays inside. `..` segments and symlinks anywhere on the way are both followed.
 */
export function escapeOf(root: string, base: string, rel: string, realpath: RealPath): string | undefined {
  const target = realTarget(resolve(base, rel), realpath);
  return isInside(root, target) ? undefined : target;
}
