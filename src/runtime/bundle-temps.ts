/**
 * Half-unpacked bundles: `prepareBundle` unpacks into `.tmp-<digest>-<pid>-<random>` and publishes
 * it with one rename, so a process killed mid-unpack (kill -9, a crash, a full disk) leaves its
 * folder behind. A folder is stale when the process named in it is gone; one of a live process —
 * this one or another — is in use and never touched.
 */
import { chmod, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

const TEMP_PREFIX = '.tmp-';

/** The name of a new unpack folder, carrying the pid of the process that fills it. */
export function bundleTempName(shortDigest: string, pid: number, random: string): string {
  return `${TEMP_PREFIX}${shortDigest}-${pid}-${random}`;
}

export interface TempFacts {
  /** Whether a process with this pid exists. */
  isAlive(pid: number): boolean;
  /** When the folder was last modified, and when this process started (ms since the epoch). */
  mtimeMs: number;
  startedAtMs: number;
}

/**
 * Whether an unpack folder may be removed. Pure. A name without a pid (written before pids were
 * recorded) is stale when it is older than this process: no one alive can still be filling it
 * unless it started before us, which `cairn up` owning the workspace rules out.
 */
export function isStaleTemp(name: string, facts: TempFacts): boolean {
  if (!name.startsWith(TEMP_PREFIX)) return false;
  const withPid = /^\.tmp-[0-9a-f]+-(\d+)-[0-9a-f]+$/.exec(name);
  if (withPid) return !facts.isAlive(Number(withPid[1]));
  return facts.mtimeMs < facts.startedAtMs;
}

/** Removes the stale unpack folders of `bundlesDir`; returns their names. Never fails the caller. */
export async function sweepBundleTemps(bundlesDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(bundlesDir)).filter((n) => n.startsWith(TEMP_PREFIX));
  } catch {
    return [];
  }
  const startedAtMs = Date.now() - process.uptime() * 1000;
  const removed: string[] = [];
  for (const name of names) {
    const dir = join(bundlesDir, name);
    const mtimeMs = await stat(dir).then(
      (s) => s.mtimeMs,
      () => Number.POSITIVE_INFINITY,
    );
    if (!isStaleTemp(name, { isAlive, mtimeMs, startedAtMs })) continue;
    if (await removeSealed(dir)) removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
}

/** Removes a tree whose folders may already be sealed read-only (0555). */
async function removeSealed(dir: string): Promise<boolean> {
  try {
    await rm(dir, { recursive: true, force: true });
    return true;
  } catch {
    await unseal(dir).catch(() => {});
    return rm(dir, { recursive: true, force: true }).then(
      () => true,
      () => false,
    );
  }
}

async function unseal(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true }))
    if (entry.isDirectory()) await unseal(join(dir, entry.name));
}
