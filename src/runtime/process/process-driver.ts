/**
 * The process driver: the last resort when neither runc nor bubblewrap is usable. It isolates
 * nothing — the instance is a plain host process that sees the host's files, processes and users —
 * and says so loudly. It still runs only from a verified bundle: the program and working folder
 * are resolved inside the bundle's read-only rootfs. Absolute paths the app opens resolve on the
 * host, so images that read e.g. /etc/<app>/config.json need runc or bwrap. It runs the instance as
 * the calling user and refuses to run as root: root cannot switch to the image's user here, because
 * the workspace's private folders would then hide the bundle from it.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DriverError } from '../../lib/index.js';
import { mergeEnv } from '../image-process.js';
import { instanceArgs, instanceVars } from '../instance-files.js';
import { PidDriver } from '../pid-driver.js';
import type { InstanceSpec, RuntimeConfig, RuntimeDriver } from '../types.js';

export type ProcessConfig = RuntimeConfig;

export const PROCESS_WARNING =
  'warning: the process driver isolates nothing (no read-only root, no namespaces, no dropped capabilities); install runc or bubblewrap (`cairn doctor --install`)';

/** The program's path relative to the working folder, found through the image's PATH inside the bundle. */
export function resolveProgram(spec: InstanceSpec, env: string[]): { program: string; cwd: string } {
  const { rootfs, process: proc } = spec.bundle;
  const cwd = join(rootfs, proc.cwd);
  const name = proc.args[0]!;
  const path = (env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '').split(':');
  const candidates = name.includes('/')
    ? [name.startsWith('/') ? name : join(proc.cwd, name)]
    : path.map((d) => join(d, name));
  const found = candidates.find((c) => existsSync(join(rootfs, c)));
  if (!found) {
    throw new DriverError(`starting ${spec.id}: ${name} is not in image ${spec.bundle.imageDigest}`, {
      hint: 'the process driver runs only programs inside the bundle',
    });
  }
  // Relative to the working folder: a non-root instance never walks the workspace's private parents.
  return { program: relative(cwd, join(rootfs, found)) || '.', cwd };
}

/** Creates the process driver (and prints its warning). */
export function createProcessDriver(config: ProcessConfig): RuntimeDriver {
  (config.warn ?? ((m) => process.stderr.write(`${m}\n`)))(PROCESS_WARNING);
  const asRoot = process.getuid?.() === 0;
  return new PidDriver(config, {
    kind: 'process',
    signalChildren: false,
    volumes: false,
    openDirs: () => [],
    plan(spec, { secretsDir }) {
      if (asRoot) {
        throw new DriverError(`starting ${spec.id}: the process driver does not run instances as root`, {
          hint: 'install runc (`cairn doctor --install`), or run cairn as a non-root user',
        });
      }
      const env = mergeEnv(spec.bundle.process.env, instanceVars(spec, secretsDir ?? ''));
      const { program, cwd } = resolveProgram(spec, env);
      const vars = Object.fromEntries(
        env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
      );
      const args = instanceArgs(spec, env).slice(1);
      const argv = [program.includes('/') ? program : `./${program}`, ...args];
      return { argv, cwd, env: vars };
    },
  });
}
