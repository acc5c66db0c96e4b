import { describe, expect, it } from 'vitest';
import { analyse } from './analysis.js';
import { metrics } from './test-world.js';

const SPEC = {
  maxErrorRate: 0.01,
  maxP99Ms: 500,
  maxP95Ms: 300,
  minRequests: 200,
  windowMs: 60_000,
  inconclusive: 'hold' as const,
};

describe('analyse', () => {
  it('passes healthy traffic and says why', () => {
    const r = analyse(SPEC, metrics(1000, 5, 200), undefined, 60_000, 7);
    expect(r).toMatchObject({ verdict: 'pass', windowMs: 60_000, at: 7 });
    expect(r.rule).toMatch(/over 1000 requests/);
  });

  it('fails on error rate, p99 and p95, naming the threshold', () => {
    expect(analyse(SPEC, metrics(1000, 200, 100), undefined, 1, 0).rule).toBe(
      'error rate 0.2 > maxErrorRate 0.01 (200/1000)',
    );
    expect(analyse(SPEC, metrics(1000, 0, 900), undefined, 1, 0).rule).toBe('p99 900ms > maxP99Ms 500');
    expect(analyse(SPEC, metrics(1000, 0, 450), undefined, 1, 0).rule).toBe('p95 360ms > maxP95Ms 300');
  });

  it('is inconclusive without enough requests, even with zero errors', () => {
    expect(analyse(SPEC, metrics(0, 0), undefined, 1, 0).verdict).toBe('inconclusive');
    expect(analyse(SPEC, metrics(199, 0), undefined, 1, 0).verdict).toBe('inconclusive');
    expect(analyse(SPEC, metrics(200, 0), undefined, 1, 0).verdict).toBe('pass');
  });

  it('fails early only when the errors seen already exceed the threshold at minRequests', () => {
    expect(analyse(SPEC, metrics(50, 2), undefined, 1, 0).verdict).toBe('inconclusive');
    expect(analyse(SPEC, metrics(50, 3), undefined, 1, 0).verdict).toBe('fail');
  });
});
