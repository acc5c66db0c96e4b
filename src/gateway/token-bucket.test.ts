import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter } from './token-bucket.js';

describe('TokenBucketLimiter', () => {
  it('allows a burst, then refuses with a Retry-After in whole seconds', () => {
    const limiter = new TokenBucketLimiter(1, 3);
    const results = Array.from({ length: 4 }, () => limiter.take('1.2.3.4', 0));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[3]!.retryAfterS).toBe(1);
  });

  it('refills at rps tokens per second, up to the burst', () => {
    const limiter = new TokenBucketLimiter(10, 10);
    for (let i = 0; i < 10; i++) limiter.take('c', 0);
    expect(limiter.take('c', 0).allowed).toBe(false);
    expect(limiter.take('c', 150).allowed).toBe(true); // 1.5 tokens came back
    expect(limiter.take('c', 150).allowed).toBe(false);
    let allowed = 0;
    for (let i = 0; i < 30; i++) if (limiter.take('c', 60_000).allowed) allowed++;
    expect(allowed).toBe(10);
  });

  it('keeps clients apart', () => {
    const limiter = new TokenBucketLimiter(1, 1);
    expect(limiter.take('a', 0).allowed).toBe(true);
    expect(limiter.take('a', 0).allowed).toBe(false);
    expect(limiter.take('b', 0).allowed).toBe(true);
  });

  it('tells a slow-rate client to wait longer', () => {
    const limiter = new TokenBucketLimiter(0.1, 1);
    limiter.take('a', 0);
    expect(limiter.take('a', 0).retryAfterS).toBe(10);
  });

  it('remembers at most maxClients clients', () => {
    const limiter = new TokenBucketLimiter(1, 1, 100);
    for (let i = 0; i < 1000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, 0);
    expect(limiter.size).toBe(100);
  });
});
