/**
 * Canary analysis: the new release's metrics against the spec's thresholds. Too little traffic is
 * its own outcome, inconclusive — never a pass on no data. Pure.
 */
import type { AnalysisSpec } from '../spec/types.js';
import type { AnalysisResult, MetricsSummary } from './types.js';

export function analyse(
  spec: AnalysisSpec,
  canary: MetricsSummary,
  stable: MetricsSummary | undefined,
  windowMs: number,
  now: number,
): AnalysisResult {
  const result = (verdict: AnalysisResult['verdict'], rule: string): AnalysisResult => ({
    verdict,
    rule,
    canary,
    ...(stable ? { stable } : {}),
    windowMs,
    at: now,
  });
  // Failing fast on clear evidence is safe even below minRequests: enough errors already
  // exceed the threshold whatever the remaining requests do.
  const worstCaseErrors = canary.errors / Math.max(canary.requests, spec.minRequests);
  if (canary.requests > 0 && worstCaseErrors > spec.maxErrorRate) {
    return result(
      'fail',
      `error rate ${round(canary.errorRate)} > maxErrorRate ${spec.maxErrorRate} (${canary.errors}/${canary.requests})`,
    );
  }
  if (canary.requests < spec.minRequests) {
    return result('inconclusive', `${canary.requests} requests < minRequests ${spec.minRequests}`);
  }
  if (canary.errorRate > spec.maxErrorRate) {
    return result('fail', `error rate ${round(canary.errorRate)} > maxErrorRate ${spec.maxErrorRate}`);
  }
  if (canary.p99Ms > spec.maxP99Ms)
    return result('fail', `p99 ${Math.round(canary.p99Ms)}ms > maxP99Ms ${spec.maxP99Ms}`);
  if (spec.maxP95Ms !== undefined && canary.p95Ms > spec.maxP95Ms) {
    return result('fail', `p95 ${Math.round(canary.p95Ms)}ms > maxP95Ms ${spec.maxP95Ms}`);
  }
  return result(
    'pass',
    `error rate ${round(canary.errorRate)} ≤ ${spec.maxErrorRate}, p99 ${Math.round(canary.p99Ms)}ms ≤ ${spec.maxP99Ms}ms over ${canary.requests} requests`,
  );
}

const round = (n: number) => Math.round(n * 10_000) / 10_000;
