/**
 * planRemediation: what to do about each drift report, as plain data the control plane carries
 * out. A drifted instance is replaced, never patched — unless replacements of the same service
 * come too fast (defer) or keep drifting (quarantine: out of traffic, kept for inspection).
 */
import type { DriftReport } from './check.js';

/** `enforce` replaces; `warn` only reports. */
export type DriftMode = 'enforce' | 'warn';

export const DEFAULT_MIN_REPLACE_INTERVAL_MS = 30_000;
export const DEFAULT_QUARANTINE_AFTER = 3;
export const DEFAULT_QUARANTINE_WINDOW_MS = 600_000;

export interface RemediationPolicy {
  mode: DriftMode;
  /** At most one drift replacement per service and environment in this long. */
  minReplaceIntervalMs?: number;
  /** This many drift replacements of one service and environment within the window → quarantine. */
  quarantineAfter?: number;
  quarantineWindowMs?: number;
}

/** A drift replacement made earlier (from the audit log or the control plane's memory). */
export interface PastReplacement {
  service: string;
  env: string;
  atMs: number;
}

export type RemediationAction =
  | { kind: 'replace'; instance: string; service: string; env: string; rebuildBundle: boolean }
  | { kind: 'defer'; instance: string; untilMs: number }
  | { kind: 'quarantine'; instance: string; service: string; env: string; replacements: number }
  | { kind: 'stop-unknown'; instance: string }
  | { kind: 'report'; instance: string };

/** One action per report not in sync that warrants one; in-sync and missing instances get none (self-heal owns crashes). */
export function planRemediation(
  reports: DriftReport[],
  past: PastReplacement[],
  policy: RemediationPolicy,
  nowMs: number,
): RemediationAction[] {
  const history = [...past];
  const actions: RemediationAction[] = [];
  // A rebuilt shared bundle leaves every instance on it drifted: one event, all of them replaced.
  const rebuiltThisPass = new Set<string>();
  for (const r of reports) {
    const status = r.verdict.status;
    if (status === 'in-sync' || status === 'missing') continue;
    if (status === 'unknown') {
      // An instance that could not be observed is not evidence of anything: report it, keep it.
      const act = !r.recorded && policy.mode === 'enforce';
      actions.push(
        act ? { kind: 'stop-unknown', instance: r.instance } : { kind: 'report', instance: r.instance },
      );
      continue;
    }
    if (policy.mode === 'warn') {
      actions.push({ kind: 'report', instance: r.instance });
      continue;
    }
    const key = `${r.env}/${r.service}/${r.release}`;
    if (rebuiltThisPass.has(key) && bundleAltered(r)) {
      actions.push({
        kind: 'replace',
        instance: r.instance,
        service: r.service,
        env: r.env,
        rebuildBundle: true,
      });
      continue;
    }
    const action = decideReplacement(r, history, policy, nowMs);
    if (action.kind === 'replace') history.push({ service: r.service, env: r.env, atMs: nowMs });
    if (action.kind === 'replace' && action.rebuildBundle) rebuiltThisPass.add(key);
    actions.push(action);
  }
  return actions;
}

function decideReplacement(
  r: DriftReport,
  history: PastReplacement[],
  policy: RemediationPolicy,
  nowMs: number,
): RemediationAction {
  const windowMs = policy.quarantineWindowMs ?? DEFAULT_QUARANTINE_WINDOW_MS;
  const minIntervalMs = policy.minReplaceIntervalMs ?? DEFAULT_MIN_REPLACE_INTERVAL_MS;
  const same = history.filter((h) => h.service === r.service && h.env === r.env);
  const recent = same.filter((h) => nowMs - h.atMs < windowMs);
  if (recent.length >= (policy.quarantineAfter ?? DEFAULT_QUARANTINE_AFTER)) {
    return {
      kind: 'quarantine',
      instance: r.instance,
      service: r.service,
      env: r.env,
      replacements: recent.length,
    };
  }
  const lastMs = Math.max(Number.NEGATIVE_INFINITY, ...same.map((h) => h.atMs));
  if (nowMs - lastMs < minIntervalMs)
    return { kind: 'defer', instance: r.instance, untilMs: lastMs + minIntervalMs };
  return {
    kind: 'replace',
    instance: r.instance,
    service: r.service,
    env: r.env,
    rebuildBundle: bundleAltered(r),
  };
}

/**
 * Whether the shared bundle itself differs (its files, files.json or bundle.json), so it must be
 * rebuilt from verified blobs first. A process, runtime config or secret difference is the
 * instance's own: a fresh instance from the same bundle is enough.
 */
export function bundleAltered(r: DriftReport): boolean {
  return (
    r.verdict.status === 'drifted' &&
    r.verdict.reasons.some((x) => x.kind === 'file' || x.kind === 'identity')
  );
}
