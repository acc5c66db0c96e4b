/**
 * Observes the parts of an instance's identity the runtime holds, hashed the way they were recorded:
 * its runtime config (runc: config.json of the bundle `runc state` names), the secret files mounted
 * into it, and the file its init process runs (/proc/<pid>/exe, compared by device and inode with
 * the bundle's file). Values are hashed with the workspace key as soon as they are read.
 */
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SVID_FOLDER } from '../runtime/index.js';
import { runcState } from './observe-processes.js';
import { runtimeConfigIdentity } from './runtime-config-hash.js';
import { keyedDigest } from './secret-hash.js';
import type { InitProcess, RuntimeConfigIdentity } from './types.js';

/** What a secret path that is not a regular file (a symlink, a folder) hashes to: never a match. */
const NOT_A_FILE = 'not-a-regular-file';
/** The kernel's mark on the exe link of a process whose file was removed or replaced. */
const DELETED_SUFFIX = ' (deleted)';

/**
 * The config.json of the bundle runc ran the container from, reduced to field digests: `bundle`
 * when the caller knows it, else the one `runc state` names.
 */
export async function observeRuntimeConfig(
  runcRoot: string,
  id: string,
  key: Buffer,
  bundle?: string,
): Promise<RuntimeConfigIdentity> {
  const dir = bundle ?? (await runcState(runcRoot, id)).bundle;
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  return runtimeConfigIdentity(config, (v) => keyedDigest(key, v));
}

/** Keyed hash of every entry in the instance's secrets folder (none when it has no such folder). */
export async function observeSecrets(dir: string, key: Buffer): Promise<Record<string, string>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  const out: Record<string, string> = {};
  for (const name of names.sort()) {
    // The SVID folder is renewed in place by design (runtime/svid-files.ts): not a secret file.
    if (name === SVID_FOLDER) continue;
    const file = join(dir, name);
    const info = await lstat(file);
    out[name] = keyedDigest(key, info.isFile() ? await readFile(file) : NOT_A_FILE);
  }
  return out;
}

/**
 * Which file the init process `pid` runs, as a path inside `rootfs`. The exe link names the file as
 * the host or the container sees it; either way it counts as the bundle's only when that path of the
 * rootfs is the very same file (device and inode), not a copy, a replaced file or one outside.
 */
export async function observeInit(pid: number, rootfs: string): Promise<InitProcess> {
  const exeLink = `/proc/${pid}/exe`;
  let named = await readlink(exeLink);
  const deleted = named.endsWith(DELETED_SUFFIX);
  if (deleted) named = named.slice(0, -DELETED_SUFFIX.length);
  const executable = named.startsWith(`${rootfs}/`) ? named.slice(rootfs.length) : named;
  const [running, inRootfs] = await Promise.all([
    stat(exeLink),
    lstat(join(rootfs, executable)).catch(() => undefined),
  ]);
  const inBundle = inRootfs !== undefined && inRootfs.dev === running.dev && inRootfs.ino === running.ino;
  if (inBundle) return { pid, executable, inBundle };
  return {
    pid,
    executable,
    inBundle,
    inode: running.ino,
    deleted,
    ...(inRootfs ? { bundleInode: inRootfs.ino } : {}),
  };
}
