/** Renders drift reports for people: one line per instance, then one indented line per reason. */
import type { DriftReport } from './check.js';
import type { DriftReason } from './types.js';

/**
 * Whether every instance that can get traffic is in sync (exit 0), or one of them drifted, is
 * missing, or is a container nobody recorded (exit 2). Instances already out of traffic (draining
 * while replaced, quarantined) do not count: what they are no longer reaches a user.
 */
export function allInSync(reports: DriftReport[]): boolean {
  return reports.every((r) => r.verdict.status === 'in-sync' || r.traffic === 'out');
}

/** Why an out-of-traffic instance is still listed, e.g. `being replaced: out of traffic, draining since …`. */
function outOfTraffic(r: DriftReport): string {
  if (r.state === 'quarantined') {
    return `quarantined since ${r.since}: out of traffic, kept running for inspection (\`cairn drift --clear ${r.instance}\` stops it)`;
  }
  return `being replaced: out of traffic, draining since ${r.since}, stopped once its requests finish`;
}

/** The text `cairn drift` prints. */
export function renderDrift(reports: DriftReport[]): string {
  if (reports.length === 0) return 'no instances run: nothing to check\n';
  const lines: string[] = [];
  for (const r of reports) {
    const v = r.verdict;
    const out = r.traffic === 'out' ? `  (${outOfTraffic(r)})` : '';
    lines.push(`${r.instance}  ${r.env || '-'}  ${r.service || '-'}  ${r.release || '-'}  ${v.status}${out}`);
    if (r.traffic === 'out' && r.stateReason) lines.push(`  cause: ${r.stateReason}`);
    if (v.status === 'drifted') for (const reason of v.reasons) lines.push(`  ${describeReason(reason)}`);
    if (v.status === 'missing' || v.status === 'unknown') lines.push(`  ${v.detail}`);
    if ((v.status === 'in-sync' || v.status === 'drifted') && v.notChecked.length > 0) {
      lines.push(`  not checked with the ${r.driver} driver: ${v.notChecked.join(', ')}`);
    }
  }
  const serving = reports.filter((r) => r.traffic === 'in');
  const bad = serving.filter((r) => r.verdict.status !== 'in-sync').length;
  const out = reports.length - serving.length;
  const aside = out > 0 ? `; ${out} out of traffic (being replaced or quarantined)` : '';
  lines.push(
    bad === 0
      ? `${serving.length} instance(s) in traffic, all in sync${aside}`
      : `${bad} of ${serving.length} instance(s) in traffic not in sync: drift found${aside}`,
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

/** A reason in a few words, for one-line summaries: `/app/server.js content`, `bundleRoot`, `process …`. */
export function headline(r: DriftReason): string {
  if (r.kind === 'file') return `${r.path} ${r.change}`;
  if (r.kind === 'identity') return r.field;
  if (r.kind === 'process') return `process ${r.detail}`;
  if (r.kind === 'config') return `run config ${r.field} ${r.change}`;
  return `secret ${r.name} ${r.change}`;
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
    reason:
      v.status === 'drifted'
        ? `${reasons.length} difference(s), first ${headline(reasons[0]!)}`
        : 'detail' in v
          ? v.detail
          : v.status,
    detail: {
      status: v.status,
      driver: r.driver,
      reasons: reasons.slice(0, MAX_AUDITED_REASONS),
      reasonCount: reasons.length,
    },
  };
}
