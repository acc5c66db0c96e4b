/**
 * The command line that runs one instance under bubblewrap: the bundle bound read-only as `/` (by an
 * open folder descriptor, so a rootless bwrap needs no access to the workspace path), a
 * fresh /proc and /dev, tmpfs only for the spec's paths, configuration files and secrets bound read-only, new PID, IPC, UTS
 * and user namespaces, every capability dropped, a new session, a clean environment. The image's
 * uid inside maps to the caller's uid outside: rootless when cairn is not root (its purpose); when
 * cairn is root it maps to host root, which is why `auto` prefers runc as root. Pure.
 */
import type { ImageProcess } from '../types.js';

export const SECRETS_DIR = '/run/secrets';

export interface BwrapInput {
  /** Descriptor (in the child) of the open bundle rootfs folder. */
  rootfsFd: number;
  process: ImageProcess;
  env: string[];
  hostname: string;
  tmpfs: string[];
  /** Volumes: descriptor (in the child) of each open host folder, bound read-write at `path`. */
  volumes?: Array<{ fd: number; path: string }>;
  /** Configuration files: descriptor (in the child) of each open host copy, bound read-only at `path`. */
  files?: Array<{ fd: number; path: string }>;
  /** Descriptor (in the child) of the open secrets folder, when the instance has secrets. */
  secretsFd?: number;
}

/** argv (program first) for spawning the instance. */
export function bwrapCommand(input: BwrapInput): string[] {
  const { uid, gid, args, cwd } = input.process;
  const argv = ['bwrap', '--ro-bind-fd', String(input.rootfsFd), '/', '--proc', '/proc', '--dev', '/dev'];
  for (const path of input.tmpfs) argv.push('--tmpfs', path);
  for (const v of input.volumes ?? []) argv.push('--bind-fd', String(v.fd), v.path);
  for (const f of input.files ?? []) argv.push('--ro-bind-fd', String(f.fd), f.path);
  if (input.secretsFd !== undefined) argv.push('--ro-bind-fd', String(input.secretsFd), SECRETS_DIR);
  argv.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-user');
  argv.push('--uid', String(uid), '--gid', String(gid), '--hostname', input.hostname);
  argv.push('--disable-userns', '--cap-drop', 'ALL', '--new-session', '--chdir', cwd, '--clearenv');
  for (const entry of input.env) {
    const eq = entry.indexOf('=');
    argv.push('--setenv', entry.slice(0, eq), entry.slice(eq + 1));
  }
  argv.push('--', ...args);
  return argv;
}
