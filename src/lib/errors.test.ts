import { describe, expect, it } from 'vitest';
import { CairnError, DiskFullError, diskFullError, fromSystemError, isDiskFull } from './index.js';

const errno = (code: string, extra: Record<string, string> = {}) =>
  Object.assign(new Error(`${code}: something`), { code, ...extra });

describe('fromSystemError', () => {
  it('turns what the user can fix into an error naming the operation, the path and what to do', () => {
    const e = fromSystemError(
      errno('EACCES', { syscall: 'open', path: '/w/.cairn/state.db' }),
      'reading state',
    );
    expect(e).toBeInstanceOf(CairnError);
    expect(e?.message).toBe('reading state: permission denied: open /w/.cairn/state.db (EACCES)');
    expect(e?.code).toBe('system_eacces');
    expect(e?.hint).toContain('the user that owns the workspace');
    expect(fromSystemError(errno('EROFS', { syscall: 'mkdir', path: '/ro' }))?.hint).toContain('writable');
  });

  it('leaves bugs and cairn errors alone', () => {
    expect(fromSystemError(new TypeError('x is undefined'))).toBeUndefined();
    expect(fromSystemError(errno('EBADF'))).toBeUndefined();
    expect(fromSystemError(new CairnError('x', 'y'))).toBeUndefined();
  });
});

describe('diskFullError', () => {
  it('names the action, the file and the code of ENOSPC, EDQUOT and SQLITE_FULL, with a hint to free space', () => {
    const write = fromSystemError(
      errno('ENOSPC', { syscall: 'write', path: '/w/.cairn/logs/a.log' }),
      'logging',
    );
    expect(write).toBeInstanceOf(DiskFullError);
    expect(write?.code).toBe('disk_full');
    expect(write?.message).toBe('logging: no space left on device: write /w/.cairn/logs/a.log (ENOSPC)');
    expect(write?.hint).toBe(
      'free space on that disk (`df -h /w/.cairn/logs` shows it), then retry; or point CAIRN_HOME at a bigger one',
    );
    const sqlite = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    expect(diskFullError(sqlite, 'creating a token', '/w/.cairn/state.db')?.message).toBe(
      'creating a token: no space left on device: writing /w/.cairn/state.db (SQLITE_FULL)',
    );
    expect(fromSystemError(sqlite)?.message).toBe('no space left on device: writing failed (SQLITE_FULL)');
    expect(diskFullError(errno('EDQUOT', { syscall: 'open', path: '/q/f' }))?.message).toBe(
      'disk quota exceeded: open /q/f (EDQUOT)',
    );
  });

  it('leaves the inotify watch limit (ENOSPC from watch) and other errors alone', () => {
    expect(isDiskFull(errno('ENOSPC', { syscall: 'watch' }))).toBe(false);
    expect(diskFullError(errno('EACCES', { syscall: 'open' }))).toBeUndefined();
    expect(diskFullError(new Error('x'))).toBeUndefined();
  });
});
