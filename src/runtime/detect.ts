/**
 * Which drivers are usable on this machine, and why not: the facts `cairn doctor` prints and
 * `createRuntimeDriver('auto')` chooses from (runc when root and installed, else bubblewrap,
 * else the process driver with its warning).
 */
import { execFileSync } from 'node:child_process';
import { DriverError } from '../lib/index.js';
import { createBwrapDriver } from './bwrap/bwrap-driver.js';
import { createProcessDriver } from './process/process-driver.js';
import { createRuncDriver } from './runc/runc-driver.js';
import type { RuntimeConfig, RuntimeDriver, RuntimeKind } from './types.js';

export interface DriverAvailability {
  kind: RuntimeKind;
  usable: boolean;
  /** Version when usable, else why not. */
  detail: string;
  /** Debian package that provides it, when one does. */
  package?: string;
}

function versionOf(binary: string, args: string[]): string | undefined {
  try {
    return execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      ?.trim();
  } catch {
    return undefined;
  }
}

/** Probes runc, bwrap and the process driver, in order of preference. */
export function detectDrivers(isRoot: boolean = process.getuid?.() === 0): DriverAvailability[] {
  const runc = versionOf('runc', ['--version']);
  const bwrap = versionOf('bwrap', ['--version']);
  return [
    {
      kind: 'runc',
      usable: runc !== undefined && isRoot,
      detail:
        runc === undefined
          ? 'runc is not installed'
          : isRoot
            ? runc
            : `${runc}, but cairn is not running as root`,
      package: 'runc',
    },
    {
      kind: 'bwrap',
      usable: bwrap !== undefined,
      detail: bwrap ?? 'bubblewrap is not installed',
      package: 'bubblewrap',
    },
    { kind: 'process', usable: true, detail: 'always available; isolates nothing' },
  ];
}

/** The driver `auto` picks here. */
export function chooseDriver(available: DriverAvailability[]): RuntimeKind {
  return available.find((d) => d.usable)!.kind;
}

/** Creates a driver; `auto` takes the best usable one. Refuses a named driver that is not usable. */
export function createRuntimeDriver(kind: 'auto' | RuntimeKind, config: RuntimeConfig): RuntimeDriver {
  const available = detectDrivers();
  const chosen = kind === 'auto' ? chooseDriver(available) : kind;
  const probe = available.find((d) => d.kind === chosen)!;
  if (!probe.usable) {
    throw new DriverError(`creating the ${chosen} driver: ${probe.detail}`, {
      hint: probe.package
        ? `install it (\`apt-get install ${probe.package}\`) or run \`cairn doctor\``
        : 'run `cairn doctor`',
    });
  }
  if (chosen === 'runc') return createRuncDriver(config);
  if (chosen === 'bwrap') return createBwrapDriver(config);
  return createProcessDriver(config);
}

/** Debian packages that would make a better driver usable here (what `cairn doctor --install` installs). */
export function packagesToInstall(available: DriverAvailability[]): string[] {
  return available.filter((d) => d.package && d.detail.endsWith('is not installed')).map((d) => d.package!);
}
