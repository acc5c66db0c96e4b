/**
 * Whether the disk that holds a folder (the workspace) is full. The first write that fails for
 * lack of space (ENOSPC, EDQUOT, SQLITE_FULL) marks it full at once; a periodic check (statfs, and
 * while full a small probe write, which also sees quotas) marks it full when it runs low and
 * clears it when space returns. One warning when it fills, one line when it recovers. The control
 * plane shows it in `cairn status` and refuses changes meanwhile; the gateway process drops its
 * access log meanwhile.
 */
import { rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskFullError, diskFullError, diskFullHint } from './errors.js';

/** Below this many free bytes the disk counts as full before anything fails. */
export const FULL_BELOW_BYTES = 1024 * 1024;
/** A full disk counts as recovered only above this, so a disk at the edge does not flap. */
export const RECOVERED_ABOVE_BYTES = 8 * 1024 * 1024;
const PROBE_FILE = '.space-probe';
const PROBE_BYTES = 64 * 1024;
/** A disk that fills again this soon after it recovered (one big write at a time) is not warned of again. */
export const QUIET_AFTER_RECOVERY_MS = 60_000;

/** What `cairn status` shows about the workspace's disk. */
export interface DiskView {
  /** The workspace folder whose disk this is. */
  path: string;
  full: boolean;
  freeBytes?: number;
  totalBytes?: number;
  /** When it became full (ISO time), while it is. */
  since?: string;
  /** The first write that failed for lack of space, while it is full. */
  error?: string;
}

export interface DiskWatchOptions {
  path: string;
  log: (line: Record<string, unknown>) => void;
  /** What the warning says goes on meanwhile, and what the recovery line says came back. */
  meanwhile?: { full: string; recovered: string };
  now?: () => number;
  /** Free and total bytes of the disk holding `path` (default: statfs). */
  space?: (path: string) => Promise<{ freeBytes: number; totalBytes: number }>;
  /** Whether a small write succeeds there now (default: writes and removes a 64 KiB file). */
  probe?: (path: string) => Promise<boolean>;
}

/** What each recovery listener adds to the one "space again" log line (e.g. dropped lines). */
type RecoveryListener = () => Record<string, unknown> | undefined;

export class DiskWatch {
  private full: { since: number; error: string; quiet: boolean } | undefined;
  private recoveredAt = Number.NEGATIVE_INFINITY;
  private space: { freeBytes: number; totalBytes: number } | undefined;
  private readonly listeners: RecoveryListener[] = [];
  private readonly now: () => number;

  constructor(private readonly options: DiskWatchOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Notes a failed write; true when it failed for lack of space (the one warning is logged then). */
  report(error: unknown, action: string): boolean {
    const full = diskFullError(error, action);
    if (!full) return false;
    this.markFull(full.message);
    return true;
  }

  /** Runs `fn` when space returns (after the disk was full); its fields join the recovery line. */
  onRecovered(fn: RecoveryListener): void {
    this.listeners.push(fn);
  }

  /** Re-reads the free space; marks the disk full when low, recovered when there is room again. */
  async check(): Promise<void> {
    const space = await (this.options.space ?? statfsSpace)(this.options.path).catch(() => undefined);
    if (!space) return;
    this.space = space;
    if (!this.full) {
      if (space.freeBytes < FULL_BELOW_BYTES)
        this.markFull(`${formatBytes(space.freeBytes)} free of ${formatBytes(space.totalBytes)}`);
      return;
    }
    if (space.freeBytes < RECOVERED_ABOVE_BYTES) return;
    if (!(await (this.options.probe ?? probeWrite)(this.options.path))) return;
    this.recover(space.freeBytes);
  }

  /** Refuses a change while the disk is full, naming it and what to do. */
  assertSpace(action: string): void {
    if (!this.full) return;
    throw new DiskFullError(
      `${action}: no space left on device: ${this.options.path} (full since ${new Date(this.full.since).toISOString()})`,
      { hint: diskFullHint(undefined, this.options.path) },
    );
  }

  get isFull(): boolean {
    return this.full !== undefined;
  }

  view(): DiskView {
    return {
      path: this.options.path,
      full: this.full !== undefined,
      ...(this.space ?? {}),
      ...(this.full ? { since: new Date(this.full.since).toISOString(), error: this.full.error } : {}),
    };
  }

  private markFull(error: string): void {
    if (this.full) return;
    const quiet = this.now() - this.recoveredAt < QUIET_AFTER_RECOVERY_MS;
    this.full = { since: this.now(), error, quiet };
    if (quiet) return;
    this.options.log({
      level: 'warn',
      msg: `disk full: no space left on device at ${this.options.path}; ${this.options.meanwhile?.full ?? 'writes are dropped until space returns'}`,
      path: this.options.path,
      error,
      hint: diskFullHint(undefined, this.options.path),
    });
  }

  private recover(freeBytes: number): void {
    const { since, quiet } = this.full!;
    const fullForMs = this.now() - since;
    this.full = undefined;
    this.recoveredAt = this.now();
    const extra = Object.assign({}, ...this.listeners.map((fn) => fn() ?? {}));
    if (quiet) return;
    this.options.log({
      msg: `disk has space again at ${this.options.path}: ${this.options.meanwhile?.recovered ?? 'writes resumed'}`,
      path: this.options.path,
      freeBytes,
      fullForMs,
      ...extra,
    });
  }
}

async function statfsSpace(path: string): Promise<{ freeBytes: number; totalBytes: number }> {
  const s = await statfs(path);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

async function probeWrite(path: string): Promise<boolean> {
  const file = join(path, PROBE_FILE);
  try {
    await writeFile(file, Buffer.alloc(PROBE_BYTES), { mode: 0o600 });
    return true;
  } catch {
    return false;
  } finally {
    await rm(file, { force: true }).catch(() => {});
  }
}

/** `524.3 kB`, `104.9 MB`: decimal units, as `df -H` counts. */
function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
