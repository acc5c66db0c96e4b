/**
 * The bubblewrap driver: rootless sandboxes with the same guarantees bwrap can give as runc
 * (read-only root, tmpfs only for the spec's paths, new namespaces, no capabilities, non-root user).
 * What it cannot give: cgroup memory/CPU limits and masked /proc paths (bwrap mounts a fresh /proc
 * of the new PID namespace instead).
 */
import { mergeEnv } from '../image-process.js';
import { instanceArgs, instanceVars } from '../instance-files.js';
import { PidDriver } from '../pid-driver.js';
import type { RuntimeConfig, RuntimeDriver } from '../types.js';
import { bwrapCommand, SECRETS_DIR } from './bwrap-args.js';

export type BwrapConfig = RuntimeConfig;

/** Creates the bubblewrap driver. */
export function createBwrapDriver(config: BwrapConfig): RuntimeDriver {
  return new PidDriver(config, {
    kind: 'bwrap',
    signalChildren: true,
    volumes: true,
    openDirs: (spec, { secretsDir, volumes, files }) => [
      spec.bundle.rootfs,
      ...(secretsDir ? [secretsDir] : []),
      ...volumes.map((v) => v.source),
      ...files.map((f) => f.source),
    ],
    plan(spec, { secretsDir, volumes, files }, fds) {
      const env = mergeEnv(spec.bundle.process.env, instanceVars(spec, SECRETS_DIR));
      const argv = bwrapCommand({
        rootfsFd: fds.get(spec.bundle.rootfs)!,
        ...(secretsDir ? { secretsFd: fds.get(secretsDir)! } : {}),
        process: { ...spec.bundle.process, args: instanceArgs(spec, env) },
        env,
        hostname: spec.id,
        tmpfs: spec.run.tmpfs,
        volumes: volumes.map((v) => ({ fd: fds.get(v.source)!, path: v.path })),
        files: files.map((f) => ({ fd: fds.get(f.source)!, path: f.path })),
      });
      return { argv, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } };
    },
  });
}
