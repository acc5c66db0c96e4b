/**
 * What runc recorded about a container in `<root>/<id>/state.json` — its init process, bundle and
 * cgroup — and the container's processes read from that cgroup, so the drift full check learns what
 * `runc state` and `runc ps` would say without spawning runc twice per instance. The container's
 * processes are its cgroup's, not the init's /proc children: `runc exec` starts a process whose
 * parent is outside the container, and only its cgroup says it is inside.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive } from '../runtime/index.js';

/**
 * The cgroup hierarchy `runc ps` lists (runc's cgroup v1 manager reads the devices controller's
 * folder); on a cgroup v2 machine runc records the one unified folder under the empty name.
 */
const PS_HIERARCHIES = ['devices', ''];

/** runc's record of a container, reduced to what drift reads. */
export interface RuncRecord {
  /** Host pid of the container's init process, and its start time in clock ticks since boot. */
  pid: number;
  startTicks: number;
  /** The bundle folder the container was created from. */
  bundle: string;
  /** The cgroup folder whose processes (recursively) are the container's. */
  cgroupDir: string;
}

interface StateFile {
  init_process_pid?: number;
  init_process_start?: number;
  cgroup_paths?: Record<string, string>;
  config?: { labels?: string[] };
}

/** Reads runc's state file of `id`; undefined when it is missing, unreadable or lacks a field. */
export async function readRuncRecord(root: string, id: string): Promise<RuncRecord | undefined> {
  let state: StateFile;
  try {
    state = JSON.parse(await readFile(join(root, id, 'state.json'), 'utf8')) as StateFile;
  } catch {
    return undefined;
  }
  return parseRuncRecord(state);
}

/** The record's fields, when all are there (pure, for tests). */
export function parseRuncRecord(state: StateFile): RuncRecord | undefined {
  const pid = state.init_process_pid;
  const startTicks = state.init_process_start;
  const bundle = state.config?.labels?.find((l) => l.startsWith('bundle='))?.slice('bundle='.length);
  const paths = state.cgroup_paths ?? {};
  const cgroupDir = PS_HIERARCHIES.map((h) => paths[h]).find((p) => typeof p === 'string' && p !== '');
  if (!Number.isInteger(pid) || !Number.isInteger(startTicks) || !bundle || !cgroupDir) return undefined;
  return { pid: pid!, startTicks: startTicks!, bundle, cgroupDir };
}

/**
 * Every process in the cgroup folder `dir` and the folders below it, as `runc ps` lists them.
 * Rejects when the folder cannot be read (the caller then asks runc).
 */
export async function cgroupPids(dir: string): Promise<number[]> {
  const [procs, entries] = await Promise.all([
    readFile(join(dir, 'cgroup.procs'), 'utf8'),
    readdir(dir, { withFileTypes: true }),
  ]);
  const own = procs
    .split('\n')
    .filter((line) => line !== '')
    .map(Number);
  const nested = await Promise.all(
    entries.filter((e) => e.isDirectory()).map((e) => cgroupPids(join(dir, e.name))),
  );
  return [...own, ...nested.flat()];
}

/**
 * runc's record of `id`, when it still describes the running container whose init process is `pid`
 * (same pid, same start time, not a zombie): anything else — no file, another init, a pid reused —
 * is undefined, and the caller asks runc itself.
 */
export async function currentRuncRecord(
  root: string,
  id: string,
  pid: number,
): Promise<RuncRecord | undefined> {
  const record = await readRuncRecord(root, id);
  if (!record || record.pid !== pid) return undefined;
  return isAlive(pid, record.startTicks) ? record : undefined;
}

/**
 * The container's processes from its cgroup, when the cgroup can be read and holds its init
 * process (a cgroup without it is not the one `runc ps` would list); else undefined.
 */
export async function recordedPids(record: RuncRecord): Promise<number[] | undefined> {
  const pids = await cgroupPids(record.cgroupDir).catch(() => undefined);
  return pids?.includes(record.pid) ? pids : undefined;
}
