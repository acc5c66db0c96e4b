import { describe, expect, it } from 'vitest';
import { AuthFailures } from './auth-failures.js';

describe('failed API authentications', () => {
  it('throttles a client after its failures in the window, and lets it try again when the window moves', () => {
    let now = 0;
    const failures = new AuthFailures(3, 60_000, () => now);
    expect([0, 1, 2].map(() => failures.fail('a', '/v1/status'))).toEqual([0, 0, 0]);
    expect(failures.fail('a', '/v1/status')).toBe(60_000);
    expect(failures.fail('b', '/v1/status')).toBe(0);
    now = 30_000;
    expect(failures.fail('a', '/v1/status')).toBe(30_000);
    now = 60_001;
    expect(failures.fail('a', '/v1/status')).toBe(0);
  });

  it('tallies one summary per client per drain, with the count, throttled ones and bounded paths', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const failures = new AuthFailures(10, 60_000, () => now);
    for (let i = 0; i < 6_000; i++) {
      failures.fail('127.0.0.1', `/v1/x${i % 7}/${'p'.repeat(i === 0 ? 500 : 1)}`);
      now += 1;
    }
    failures.fail('127.0.0.2', '/v1/status');
    const tallies = failures.drain();
    expect(tallies).toHaveLength(2);
    expect(tallies[0]).toMatchObject({
      remote: '127.0.0.1',
      count: 6_000,
      throttled: 5_990,
      firstAt: '2026-01-01T00:00:00.000Z',
      lastAt: '2026-01-01T00:00:05.999Z',
    });
    expect(tallies[0]!.paths).toHaveLength(5);
    expect(tallies[0]!.paths[0]).toHaveLength(200);
    expect(tallies[1]).toMatchObject({ remote: '127.0.0.2', count: 1, throttled: 0 });
    expect(failures.drain()).toEqual([]);
  });

  it('keeps apart at most a thousand clients per interval; the rest share one tally', () => {
    const failures = new AuthFailures();
    for (let i = 0; i < 1_500; i++) failures.fail(`127.0.${i >> 8}.${i & 255}`, '/');
    const tallies = failures.drain();
    expect(tallies).toHaveLength(1_001);
    expect(tallies.at(-1)).toMatchObject({ remote: 'other', count: 500 });
  });
});
