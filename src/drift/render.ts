/** Renders drift reports for people: one line per instance, then one indented line per reason. */
import type { DriftReport } from './check.js';
import type { DriftReason } from './types.js';

/** Whether every report is in sync (exit 0) or something drifted, is missing or unknown (exit 2). */
export function allInSync(reports: DriftReport[]): boolean {
  return reports.every((r) => r.verdict.status === 'in-sync');
}

/** The text `cairn drift` prints. */
export function renderDrift(reports: DriftReport[]): string {
  if (reports.length === 0) return 'no instances run: nothing to check\n';
  const lines: string[] = [];
  for (const r of reports) {
    const v = r.verdict;
    lines.push(`${r.instance}  ${r.env || '-'}  ${r.service || '-'}  ${r.release || '-'}  ${v.status}`);
    if (v.status === 'drifted') for (const reason of v.reasons) lines.push(`  ${describeReason(reason)}`);
    if (v.status === 'missing' || v.status === 'unknown') lines.push(`  ${v.detail}`);
    if ((v.status === 'in-sync' || v.status === 'drifted') && v.notChecked.length > 0) {
      lines.push(`  not checked with the ${r.driver} driver: ${v.notChecked.join(', ')}`);
    }
  }
  const bad = reports.filter((r) => r.verdict.status !== 'in-sync').length;
  lines.push(
    bad === 0
      ? `${reports.length} instance(s) in sync`
      : `${bad} of ${reports.length} instance(s) not in sync: drift found`,
  );
  return `${lines.join('\n')}\n`;
}

/** One reason as a line, e.g. `~ /app/server.js: content sha256:… → sha256:…`. */
export function describeReason(r: DriftReason): string {
  if (r.kind === 'process') return `! process ${r.detail}`;
  if (r.kind === 'identity') return `~ ${r.field}: recorded ${r.expected}, bundle now says ${r.observed}`;
  if (r.change === 'added') return `+ ${r.path}: added (${r.observed})`;
  if (r.change === 'removed') return `- ${r.path}: removed (was ${r.expected})`;
  return `~ ${r.path}: ${r.change} ${r.expected} → ${r.observed}`;
}

/** An audit entry names this many reasons at most; `reasonCount` says how many there were. */
export const MAX_AUDITED_REASONS = 50;

/** The `drift.detected` audit entry of a report not in sync (subject: service, env, release, instance). */
export function detectionEvent(r: DriftReport): {
  action: string;
  subject: Record<string, string>;
  reason: string;
  detail: Record<string, unknown>;
} {
  const v = r.verdict;
  const reasons = v.status === 'drifted' ? v.reasons : [];
  return {
    action: 'drift.detected',
    subject: {
      instance: r.instance,
      ...(r.service ? { service: r.service } : {}),
      ...(r.env ? { env: r.env } : {}),
      ...(r.release ? { release: r.release } : {}),
    },
    reason: v.status === 'drifted' ? `${reasons.length} difference(s)` : 'detail' in v ? v.detail : v.status,
    detail: {
      status: v.status,
      driver: r.driver,
      reasons: reasons.slice(0, MAX_AUDITED_REASONS),
      reasonCount: reasons.length,
    },
  };
}
