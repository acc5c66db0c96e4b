/**
 * The fast path of drift detection: inotify (through `fs.watch`) on every directory of a bundle's
 * rootfs, so a write, chmod, create, delete or rename anywhere in it is known within milliseconds.
 * An event is only a hint — the periodic full verification trusts no event and misses none.
 */
import fs, { type Dirent, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

/** Events are coalesced for this long, then each distinct path is reported once. */
export const DEFAULT_COALESCE_MS = 50;
/**
 * Directories watched per turn of the event loop: a tree of thousands of directories is watched
 * over several turns, so the gateway in the same thread never waits for all of it at once.
 */
const DIRS_PER_TURN = 64;

/** A running watch; `close()` stops every inotify watch it holds. */
export interface TreeWatcher {
  close(): void;
}

export interface WatchTreeOptions {
  /**
   * Called once when events can no longer be delivered (e.g. ENOSPC: the inotify watch limit,
   * `fs.inotify.max_user_watches`, is reached). The watcher then holds no watch at all.
   */
  onError?: (error: Error) => void;
  /** How long to gather a burst of events before reporting it (default `DEFAULT_COALESCE_MS`). */
  coalesceMs?: number;
  /** Called once every directory that existed at the start is watched. */
  onReady?: () => void;
}

/**
 * Calls onChange(relPath) (e.g. '/app/server.js') soon after anything under root changes.
 * Directories created later are watched as soon as they appear (and what they already hold is
 * reported). A big tree is watched over several event-loop turns (`onReady` says when all of it
 * is). Never follows a symlink. An idle watcher never keeps the process alive: only the setup and
 * an event not yet reported do, briefly.
 *
 * @example
 * ```ts
 * const watcher = watchTree(bundle.rootfs, (path) => queueCheck(path), { onError: warnOnce });
 * // ... on shutdown
 * watcher.close();
 * ```
 */
export function watchTree(
  root: string,
  onChange: (path: string) => void,
  options: WatchTreeOptions = {},
): TreeWatcher {
  const tree = new WatchedTree(root, onChange, options);
  tree.add('', false);
  return { close: () => tree.close() };
}

class WatchedTree {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Directories still to watch, with whether to report what they hold (they appeared later). */
  private readonly toWatch: { rel: string; report: boolean }[] = [];
  private turn: NodeJS.Immediate | undefined;
  private ready = false;
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly onChange: (path: string) => void,
    private readonly options: WatchTreeOptions,
  ) {}

  /** Watches `rel` and every directory below it; with `report`, also reports what they hold. */
  add(rel: string, report: boolean): void {
    this.toWatch.push({ rel, report });
    this.watchSome();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.turn) clearImmediate(this.turn);
    this.toWatch.length = 0;
    this.pending.clear();
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  /** Watches up to `DIRS_PER_TURN` waiting directories now, and the rest on later turns. */
  private watchSome(): void {
    if (this.turn) return;
    for (let n = 0; n < DIRS_PER_TURN && this.toWatch.length > 0 && !this.closed; n++) {
      const { rel, report } = this.toWatch.pop()!;
      this.watchOne(rel, report);
    }
    if (this.closed) return;
    if (this.toWatch.length > 0) {
      this.turn = setImmediate(() => {
        this.turn = undefined;
        this.watchSome();
      });
    } else if (!this.ready) {
      this.ready = true;
      const onReady = this.options.onReady;
      if (onReady) setImmediate(() => this.closed || onReady());
    }
  }

  private watchOne(rel: string, report: boolean): void {
    if (this.watchers.has(rel) || !this.watchDir(rel)) return;
    let children: Dirent[];
    try {
      children = fs.readdirSync(join(this.root, rel), { withFileTypes: true });
    } catch {
      return; // Gone or unreadable already: the event on its parent has been reported.
    }
    for (const child of children) {
      const childRel = `${rel}/${child.name}`;
      if (report) this.report(childRel);
      if (child.isDirectory()) this.toWatch.push({ rel: childRel, report });
    }
  }

  /** Adds one inotify watch; false when the directory cannot be watched (or watching stopped). */
  private watchDir(rel: string): boolean {
    try {
      const watcher = fs.watch(join(this.root, rel), { persistent: false }, (event, name) =>
        this.onEvent(rel, event, name === null ? null : String(name)),
      );
      watcher.on('error', () => this.forget(rel));
      this.watchers.set(rel, watcher);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Below the root, ENOENT, ENOTDIR or EACCES mean it went away or is not ours to watch.
      if (code === 'ENOSPC' || code === 'EMFILE' || rel === '') this.fail(error as Error);
      return false;
    }
  }

  private onEvent(dirRel: string, event: string, name: string | null): void {
    if (this.closed) return;
    if (event === 'change' && name !== null) {
      // Content or metadata: nothing appeared or went away, so no watch to add or drop (cheap
      // when a burst of writes arrives). A moved directory's watch is dropped on its own 'rename'.
      this.report(`${dirRel}/${name}`);
      return;
    }
    if (name === null || !fs.existsSync(join(this.root, dirRel))) {
      // The watched directory itself changed or went away (inotify names it by its basename).
      this.report(dirRel || '/');
      if (name !== null) this.forgetBelow(dirRel);
      return;
    }
    const rel = `${dirRel}/${name}`;
    this.report(rel);
    let isDir = false;
    try {
      isDir = fs.lstatSync(join(this.root, rel)).isDirectory();
    } catch {
      this.forgetBelow(rel); // Removed or renamed away: its watches are dead.
      return;
    }
    if (isDir) this.add(rel, true);
  }

  private report(rel: string): void {
    this.pending.add(rel);
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.options.coalesceMs ?? DEFAULT_COALESCE_MS);
  }

  private flush(): void {
    this.timer = undefined;
    const paths = [...this.pending];
    this.pending.clear();
    for (const path of paths) {
      if (this.closed) return;
      this.onChange(path);
    }
  }

  private forget(rel: string): void {
    this.watchers.get(rel)?.close();
    this.watchers.delete(rel);
  }

  private forgetBelow(rel: string): void {
    for (const key of [...this.watchers.keys()]) {
      if (key === rel || key.startsWith(`${rel}/`)) this.forget(key);
    }
  }

  /** Reports the first fatal error once and drops every watch: no partial, misleading coverage. */
  private fail(error: Error): void {
    if (this.closed) return;
    this.close();
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'ENOSPC' ? ' (raise fs.inotify.max_user_watches)' : '';
    const message = `watching ${this.root} for changes: ${error.message}${hint}; relying on the periodic check`;
    this.options.onError?.(Object.assign(new Error(message), { code, cause: error }));
  }
}
