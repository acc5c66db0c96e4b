/** The folders an instance mounts something writable on (its tmpfs and volume paths). Pure. */
import type { RunSpec } from './types.js';

/**
 * Every `run.tmpfs` and `run.volumes[].path`, sorted, without duplicates: the mount points an image
 * built for this run spec records (OCI config `Volumes`), so its bundle has each folder.
 *
 * @example
 * ```ts
 * mountPaths({ tmpfs: ['/tmp'], volumes: [{ name: 'db', path: '/data' }] }); // ['/data', '/tmp']
 * ```
 */
export function mountPaths(
  run: Pick<RunSpec, 'tmpfs'> & { volumes?: ReadonlyArray<{ path: string }> },
): string[] {
  const paths = [...(run.tmpfs ?? []), ...(run.volumes ?? []).map((v) => v.path)];
  return [...new Set(paths)].sort();
}
