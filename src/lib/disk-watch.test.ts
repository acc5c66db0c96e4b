import { describe, expect, it } from 'vitest';
import { DiskWatch, QUIET_AFTER_RECOVERY_MS } from './disk-watch.js';
import { DiskFullError } from './errors.js';

const MiB = 1024 * 1024;
const enospc = () =>
  Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });

function world(freeBytes: number) {
  const lines: Array<Record<string, unknown>> = [];
  const w = {
    free: freeBytes,
    probeOk: true,
    now: 0,
    lines,
    watch: undefined as unknown as DiskWatch,
  };
  w.watch = new DiskWatch({
    path: '/w/.cairn',
    log: (l) => lines.push(l),
    now: () => w.now,
    space: async () => ({ freeBytes: w.free, totalBytes: 100 * MiB }),
    probe: async () => w.probeOk,
  });
  return w;
}

describe('DiskWatch', () => {
  it('marks the disk full on the first ENOSPC, warns once, refuses changes, and recovers with one line', async () => {
    const w = world(0);
    w.watch.onRecovered(() => ({ accessLogDropped: 7 }));
    expect(w.watch.report(enospc(), 'writing the access log')).toBe(true);
    expect(w.watch.report(enospc(), 'writing the access log')).toBe(true);
    await w.watch.check();
    expect(w.lines).toHaveLength(1);
    expect(w.lines[0]).toMatchObject({ level: 'warn', path: '/w/.cairn' });
    expect(w.watch.view()).toMatchObject({
      full: true,
      freeBytes: 0,
      error: 'writing the access log: no space left on device: write failed (ENOSPC)',
    });
    expect(() => w.watch.assertSpace('deploying hello to dev')).toThrow(DiskFullError);
    expect(() => w.watch.assertSpace('deploying hello to dev')).toThrow(
      /^deploying hello to dev: no space left on device: \/w\/\.cairn \(full since /,
    );

    w.free = 4 * MiB; // some room, not enough to call it recovered
    await w.watch.check();
    expect(w.watch.isFull).toBe(true);
    w.free = 50 * MiB;
    w.now = 3000;
    await w.watch.check();
    expect(w.watch.isFull).toBe(false);
    expect(w.lines).toHaveLength(2);
    expect(w.lines[1]).toMatchObject({ fullForMs: 3000, accessLogDropped: 7, freeBytes: 50 * MiB });
    expect(() => w.watch.assertSpace('deploying')).not.toThrow();
  });

  it('calls a disk with less than 1 MiB free full before anything fails, and ignores other errors', async () => {
    const w = world(512 * 1024);
    expect(w.watch.report(new Error('EIO'), 'x')).toBe(false);
    expect(w.watch.report(Object.assign(new Error('limit'), { code: 'ENOSPC', syscall: 'watch' }), 'x')).toBe(
      false,
    );
    expect(w.watch.isFull).toBe(false);
    await w.watch.check();
    expect(w.watch.view()).toMatchObject({ full: true, error: '524.3 kB free of 104.9 MB' });
  });

  it('stays full while a write still fails (a quota) even though statfs shows room', async () => {
    const w = world(50 * MiB);
    w.watch.report(Object.assign(new Error('quota'), { code: 'EDQUOT', syscall: 'write' }), 'writing');
    w.probeOk = false;
    await w.watch.check();
    expect(w.watch.isFull).toBe(true);
    w.probeOk = true;
    await w.watch.check();
    expect(w.watch.isFull).toBe(false);
  });

  it('does not warn again when the disk fills again soon after it recovered', async () => {
    const w = world(50 * MiB);
    w.watch.report(enospc(), 'unpacking');
    await w.watch.check();
    w.now = 1000;
    w.watch.report(enospc(), 'unpacking');
    expect(w.watch.isFull).toBe(true);
    await w.watch.check();
    expect(w.lines.map((l) => l.level ?? 'info')).toEqual(['warn', 'info']);
    w.now = 1000 + QUIET_AFTER_RECOVERY_MS + 1;
    w.watch.report(enospc(), 'unpacking');
    expect(w.lines).toHaveLength(3);
  });
});
