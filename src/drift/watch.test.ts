import fs, {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { listRootfs } from './observe-files.js';
import { type TreeWatcher, watchTree } from './watch.js';

/** Collects reported paths; `next(n)` resolves once n paths have been reported (or after 2 s). */
function collector() {
  const seen: string[] = [];
  let waiter: (() => void) | undefined;
  let wanted = 0;
  const onChange = (path: string) => {
    seen.push(path);
    if (waiter && seen.length >= wanted) waiter();
  };
  const next = (n: number) =>
    new Promise<void>((resolve) => {
      wanted = n;
      if (seen.length >= n) return resolve();
      waiter = resolve;
      setTimeout(resolve, 2000);
    });
  return { seen, onChange, next };
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

describe('watchTree', () => {
  let root: string;
  let watcher: TreeWatcher | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'cairn-watch-'));
    mkdirSync(join(root, 'app/lib'), { recursive: true });
    writeFileSync(join(root, 'app/server.js'), 'console.log(1)\n');
    writeFileSync(join(root, 'app/lib/util.js'), 'export {}\n');
  });
  afterEach(() => {
    watcher?.close();
    watcher = undefined;
    vi.restoreAllMocks();
    rmSync(root, { recursive: true, force: true });
  });

  it('reports one appended byte by its path inside the rootfs', async () => {
    const c = collector();
    watcher = watchTree(root, c.onChange);
    appendFileSync(join(root, 'app/server.js'), 'x');
    await c.next(1);
    expect(c.seen).toEqual(['/app/server.js']);
  });

  it('reports a chmod and a change two directories deep', async () => {
    const c = collector();
    watcher = watchTree(root, c.onChange);
    chmodSync(join(root, 'app/lib/util.js'), 0o4755);
    await c.next(1);
    expect(c.seen).toEqual(['/app/lib/util.js']);
  });

  it('coalesces a burst of writes to one file into one report', async () => {
    const c = collector();
    watcher = watchTree(root, c.onChange);
    for (let i = 0; i < 200; i++) appendFileSync(join(root, 'app/server.js'), 'x');
    await c.next(1);
    await settle();
    expect(c.seen).toEqual(['/app/server.js']);
  });

  it('watches a directory created later, and reports what was put in it before the watch', async () => {
    const c = collector();
    watcher = watchTree(root, c.onChange);
    mkdirSync(join(root, 'app/new/deeper'), { recursive: true });
    writeFileSync(join(root, 'app/new/deeper/early.js'), 'early');
    await c.next(3);
    await settle();
    expect(c.seen).toEqual(expect.arrayContaining(['/app/new', '/app/new/deeper/early.js']));
    c.seen.length = 0;
    writeFileSync(join(root, 'app/new/deeper/late.js'), 'late');
    await c.next(1);
    expect(c.seen).toEqual(['/app/new/deeper/late.js']);
  });

  it('follows a directory renamed in, and names the one renamed away', async () => {
    const c = collector();
    watcher = watchTree(root, c.onChange);
    renameSync(join(root, 'app/lib'), join(root, 'app/lib2'));
    await c.next(2);
    await settle();
    expect(c.seen).toEqual(expect.arrayContaining(['/app/lib', '/app/lib2']));
    c.seen.length = 0;
    appendFileSync(join(root, 'app/lib2/util.js'), 'x');
    await c.next(1);
    await settle();
    expect(c.seen).toEqual(['/app/lib2/util.js']); // not also under its old name
  });

  it('reports nothing when nothing changes, and nothing after close', async () => {
    const c = collector();
    watcher = watchTree(root, c.onChange);
    fs.readFileSync(join(root, 'app/server.js'));
    await settle();
    watcher.close();
    appendFileSync(join(root, 'app/server.js'), 'x');
    await settle();
    expect(c.seen).toEqual([]);
  });

  it('watches a tree of many directories over several turns, then says it is ready', async () => {
    for (let i = 0; i < 300; i++) mkdirSync(join(root, `many/d${i}/e`), { recursive: true });
    const c = collector();
    let ready = false;
    const isReady = new Promise<void>((resolve) => {
      watcher = watchTree(root, c.onChange, { onReady: resolve });
    }).then(() => {
      ready = true;
    });
    expect(ready).toBe(false);
    await isReady;
    for (const i of [0, 150, 299]) writeFileSync(join(root, `many/d${i}/e/new.txt`), 'x');
    await c.next(3);
    expect(c.seen.sort()).toEqual(['/many/d0/e/new.txt', '/many/d150/e/new.txt', '/many/d299/e/new.txt']);
  });

  it('a full verification, which reads every file, triggers no event', async () => {
    const c = collector();
    watcher = watchTree(root, c.onChange);
    expect(await listRootfs(root)).toHaveLength(4);
    await settle();
    expect(c.seen).toEqual([]);
  });

  it('reports a rootfs it cannot watch at all through onError, not by silence', () => {
    const errors: Error[] = [];
    watcher = watchTree(join(root, 'missing'), () => {}, { onError: (e) => errors.push(e) });
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^watching .*missing for changes: ENOENT.*; relying on the periodic check$/),
    ]);
  });

  it('on ENOSPC (inotify watch limit) reports once, drops every watch, and reports no more events', async () => {
    const real = fs.watch;
    let calls = 0;
    vi.spyOn(fs, 'watch').mockImplementation(((...args: Parameters<typeof fs.watch>) => {
      if (++calls > 1) {
        throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), {
          code: 'ENOSPC',
        });
      }
      return real(...args);
    }) as typeof fs.watch);
    const c = collector();
    const errors: Error[] = [];
    watcher = watchTree(root, c.onChange, { onError: (e) => errors.push(e) });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^watching .*: ENOSPC.*max_user_watches.*periodic check$/);
    writeFileSync(join(root, 'top.txt'), 'x');
    await settle();
    expect(c.seen).toEqual([]);
  });
});
