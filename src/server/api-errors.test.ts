import { describe, expect, it } from 'vitest';
import { DiskFullError } from '../lib/index.js';
import { errorBody, errorFromBody, statusFor } from './api-errors.js';

describe('a full disk over the API', () => {
  it('answers 507 with the message naming the file, and comes back as a DiskFullError (exit 1)', () => {
    const raw = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    expect(statusFor(raw)).toBe(507);
    const body = errorBody(raw);
    expect(body.error).toMatchObject({
      code: 'disk_full',
      message: 'no space left on device: writing failed (SQLITE_FULL)',
    });
    expect(body.error.message).not.toMatch(/internal error/);
    expect(errorFromBody(body)).toBeInstanceOf(DiskFullError);
    expect(statusFor(new DiskFullError('deploying: no space left on device: /w/.cairn'))).toBe(507);
  });
});
