import { describe, expect, it } from 'vitest';
import { BACKOFF_MAX_MS, CrashBackoff, FAILURE_MEMORY_MS } from './crash-backoff.js';

describe('crash-loop backoff', () => {
  it('replaces a first failure at once, then doubles the wait up to 30 s, and forgets after 5 min', () => {
    let now = 1_000_000;
    const backoff = new CrashBackoff(() => now);
    const key = 'dev/rel-1';
    expect(backoff.remainingMs(key)).toBe(0);
    backoff.note(key);
    expect(backoff.remainingMs(key)).toBe(0);
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      backoff.note(key);
      waits.push(backoff.remainingMs(key));
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 16_000, BACKOFF_MAX_MS, BACKOFF_MAX_MS]);
    now += 1000;
    expect(backoff.remainingMs(key)).toBe(BACKOFF_MAX_MS - 1000);
    expect(backoff.remainingMs('dev/rel-2')).toBe(0);
    now += FAILURE_MEMORY_MS;
    expect(backoff.remainingMs(key)).toBe(0);
  });
});
