/**
 * Configuration files of an instance (`services.X.environments.ENV.files`): where the image lets
 * them be mounted, and the per-instance copies a driver binds read-only there. The bundle is shared
 * and its root read-only, so each mount point — an empty 0444 file where the image has none — is
 * made when the bundle is unpacked, from the paths the image records (CONFIG_FILES_LABEL); a runtime
 * never creates one. The copies live in the instance's private folder and go with it.
 */
import { lstat, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DriverError, sha256Hex, ValidationError } from '../lib/index.js';
import { CONFIG_FILES_LABEL } from '../spec/index.js';
import { privateDirOf } from './instance-files.js';
import type { InstanceSpec, RuntimeConfig } from './types.js';

/** One configuration file as a driver mounts it: host copy → path in the instance, read-only. */
export interface ConfigFileMount {
  path: string;
  source: string;
}

/** The mount points an image records for configuration files (none when it records none). */
export function configFilePoints(labels: Record<string, string> | undefined, image: string): string[] {
  const raw = labels?.[CONFIG_FILES_LABEL];
  if (raw === undefined) return [];
  let paths: unknown;
  try {
    paths = JSON.parse(raw);
  } catch {
    paths = undefined;
  }
  if (!Array.isArray(paths) || !paths.every(isCleanPath)) {
    throw new ValidationError(
      `preparing image ${image}: label ${CONFIG_FILES_LABEL} is not a list of clean absolute paths`,
      [],
    );
  }
  return [...new Set(paths as string[])].sort();
}

const isCleanPath = (p: unknown): boolean =>
  typeof p === 'string' &&
  /^\/[^\0]*[^/]$/.test(p) &&
  !p.includes('//') &&
  !p.split('/').some((part) => part === '..' || part === '.');

/**
 * Makes an empty read-only file at `point` in the rootfs being unpacked (parents as 0755 folders),
 * unless the image has a file there; a folder or symlink in the way fails the image.
 */
export async function makeConfigFilePoint(rootfs: string, point: string, image: string): Promise<void> {
  const parts = point.slice(1).split('/');
  let current = rootfs;
  for (const [i, part] of parts.entries()) {
    current = join(current, part);
    const last = i === parts.length - 1;
    const stat = await lstat(current).catch(() => undefined);
    if (!stat) {
      if (last) await writeFile(current, '', { mode: 0o444 });
      else await mkdir(current, { mode: 0o755 });
    } else if (last ? !stat.isFile() : !stat.isDirectory()) {
      const what = stat.isSymbolicLink() ? 'symlink' : stat.isDirectory() ? 'folder' : 'special file';
      throw new ValidationError(
        `preparing image ${image}: cannot mount configuration file ${point}: the image has a ${what} at ${current.slice(rootfs.length)}`,
        [],
        {
          hint: `choose another path in environments.<env>.files, or change the image at ${current.slice(rootfs.length)}`,
        },
      );
    }
  }
}

/** Every configuration file's path must be a plain file in the bundle (no symlink on the way). */
export async function checkConfigFilePaths(spec: InstanceSpec): Promise<void> {
  for (const path of Object.keys(spec.files ?? {})) {
    let current = spec.bundle.rootfs;
    const parts = path.slice(1).split('/');
    for (const [i, part] of parts.entries()) {
      current = join(current, part);
      const stat = await lstat(current).catch(() => undefined);
      const ok = i === parts.length - 1 ? stat?.isFile() : stat?.isDirectory();
      if (!ok) {
        throw new DriverError(
          `starting ${spec.id}: configuration file ${path} has no mount point in image ${spec.bundle.imageDigest}`,
          {
            hint: 'build the image again with `cairn build` (it records the paths of environments.<env>.files), then deploy',
          },
        );
      }
    }
  }
}

/** The host copy of the configuration file at `path` of instance `id` (drift reads it there). */
export function configFileCopyOf(
  config: Pick<RuntimeConfig, 'runtimeDir'>,
  id: string,
  path: string,
): string {
  // One host file per path (named by the path's hash): two paths may share content, not a file.
  return join(privateDirOf(config, id), 'files', sha256Hex(path).slice(0, 16));
}

/** Writes the instance's configuration files into its private folder (0444) and says where each goes. */
export async function writeConfigFiles(
  config: RuntimeConfig,
  spec: InstanceSpec,
): Promise<ConfigFileMount[]> {
  const files = Object.entries(spec.files ?? {});
  if (files.length === 0) return [];
  await mkdir(join(privateDirOf(config, spec.id), 'files'), { mode: 0o755 });
  const mounts: ConfigFileMount[] = [];
  for (const [path, content] of files) {
    const source = configFileCopyOf(config, spec.id, path);
    await writeFile(source, content, { mode: 0o444, flag: 'wx' });
    mounts.push({ path, source });
  }
  return mounts.sort((a, b) => (a.path < b.path ? -1 : 1));
}
