/** Small display helpers shared by the pages. */

export const short = (id: string | undefined, n = 12): string =>
  id ? (id.length > n ? `${id.slice(0, n)}…` : id) : '—';

export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 129600) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export const pct = (x: number): string => `${(x * 100).toFixed(x < 0.01 && x > 0 ? 2 : 1)}%`;

/** Phases of a rollout still in progress (the state store's `active` deployments). */
const ACTIVE = new Set(['pending', 'progressing', 'paused']);
export const inProgress = (phase: string): boolean => ACTIVE.has(phase);
