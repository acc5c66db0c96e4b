/** The paths an instance mounts something on: its tmpfs and volume folders, its configuration files. Pure. */
import type { RunSpec, ServiceSpec } from './types.js';

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

/**
 * The image label listing (as a JSON array) the paths where configuration files are mounted:
 * `prepareBundle` makes an empty read-only file at each one the image lacks, so a runtime can bind
 * a file there in a read-only root without writing to the shared bundle.
 */
export const CONFIG_FILES_LABEL = 'dev.cairn.config-files';

/**
 * Every path any environment of the service mounts a configuration file at, sorted: recorded in
 * its image (CONFIG_FILES_LABEL), so one image serves every environment.
 *
 * @example
 * ```ts
 * configFileTargets({ environments: { prod: { env: {}, files: { '/etc/app.json': './prod.json' } } } });
 * // ['/etc/app.json']
 * ```
 */
export function configFileTargets(service: Pick<ServiceSpec, 'environments'>): string[] {
  const targets = Object.values(service.environments ?? {}).flatMap((e) => Object.keys(e.files ?? {}));
  return [...new Set(targets)].sort();
}
