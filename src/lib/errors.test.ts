import { describe, expect, it } from 'vitest';
import { CairnError, fromSystemError } from './index.js';

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
    expect(fromSystemError(errno('ENOSPC', { syscall: 'write' }))?.message).toBe(
      'no space left on the device: write failed (ENOSPC)',
    );
    expect(fromSystemError(errno('EROFS', { syscall: 'mkdir', path: '/ro' }))?.hint).toContain('writable');
  });

  it('leaves bugs and cairn errors alone', () => {
    expect(fromSystemError(new TypeError('x is undefined'))).toBeUndefined();
    expect(fromSystemError(errno('EBADF'))).toBeUndefined();
    expect(fromSystemError(new CairnError('x', 'y'))).toBeUndefined();
  });
});
