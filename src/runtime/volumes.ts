/**
 * Named volumes: per-environment folders on disk (`.cairn/volumes/<env>/<name>/`) that outlive
 * every instance, release and `cairn down`. An instance's driver makes its volumes and binds them
 * read-write at their paths; only `cairn volume rm` deletes one.
 */
import { chown, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DriverError } from '../lib/index.js';
import type { InstanceSpec, RuntimeConfig } from './types.js';

/** A volume folder: private to the image user (the only user in an instance). */
export const VOLUME_MODE = 0o700;
const NAME = /^[a-z][a-z0-9-]*$/;

/** A volume on disk. */
export interface VolumeInfo {
  env: string;
  name: string;
  dir: string;
  sizeBytes: number;
}

/** One volume an instance mounts: its name, the folder it is mounted on, its host folder. */
export interface VolumeMount {
  name: string;
  path: string;
  source: string;
}

/** `.cairn/volumes`: next to the runtime folder unless the config names another. */
export function volumesDirOf(config: Pick<RuntimeConfig, 'runtimeDir' | 'volumesDir'>): string {
  return config.volumesDir ?? join(config.runtimeDir, '..', 'volumes');
}

/** The host folder of volume `name` in `env`; names are checked so neither can leave the root. */
export function volumeDir(root: string, env: string, name: string): string {
  if (!NAME.test(env) || !NAME.test(name))
    throw new DriverError(`finding volume ${name} of ${env}: not a valid volume or environment name`);
  return join(root, env, name);
}

/**
 * Creates the instance's volumes that do not exist yet and returns their mounts. `owner`: the host
 * uid/gid the image user runs as (runc as root), given each volume's top folder at every start so
 * a volume made for one `build.user` follows it; its contents keep their owners.
 */
export async function ensureVolumes(
  config: Pick<RuntimeConfig, 'runtimeDir' | 'volumesDir'>,
  spec: Pick<InstanceSpec, 'env' | 'run'>,
  owner?: { uid: number; gid: number },
): Promise<VolumeMount[]> {
  const root = volumesDirOf(config);
  const mounts: VolumeMount[] = [];
  for (const { name, path } of spec.run.volumes ?? []) {
    const source = volumeDir(root, spec.env, name);
    await mkdir(join(root, spec.env), { recursive: true, mode: 0o700 });
    await mkdir(source, { mode: VOLUME_MODE }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const st = await lstat(source);
    if (!st.isDirectory() || st.isSymbolicLink())
      throw new DriverError(`mounting volume ${name}: ${source} is not a folder`, {
        hint: 'move what is there aside; cairn mounts only folders it made',
      });
    if (owner) await chown(source, owner.uid, owner.gid);
    mounts.push({ name, path, source });
  }
  return mounts;
}

/** Bytes used by the files under `dir` (sizes of regular files; links are not followed). */
export async function folderSize(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) total += await folderSize(full);
    else if (e.isFile()) total += (await lstat(full).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** Every volume under the workspace's volumes folder, sorted by environment and name. */
export async function listVolumes(root: string): Promise<VolumeInfo[]> {
  const out: VolumeInfo[] = [];
  for (const env of (await readdir(root).catch(() => [] as string[])).sort()) {
    for (const name of (await readdir(join(root, env)).catch(() => [] as string[])).sort()) {
      const dir = join(root, env, name);
      out.push({ env, name, dir, sizeBytes: await folderSize(dir) });
    }
  }
  return out;
}

/** Deletes a volume and everything in it. */
export async function removeVolume(root: string, env: string, name: string): Promise<void> {
  await rm(volumeDir(root, env, name), { recursive: true, force: true });
}
