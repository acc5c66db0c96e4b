/** CVSS v3.x base scores from vectors (FIRST's specification formulas) and their ratings. */
import type { VulnSeverity } from '../spec/index.js';

export const SEVERITIES: readonly VulnSeverity[] = ['none', 'low', 'medium', 'high', 'critical'];

const W = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  CIA: { H: 0.56, L: 0.22, N: 0 },
} as const;

/** CVSS 3.1 Roundup: the smallest number with one decimal that is ≥ the input, free of float noise. */
function roundup(x: number): number {
  const i = Math.round(x * 100_000);
  return i % 10_000 === 0 ? i / 100_000 : (Math.floor(i / 10_000) + 1) / 10;
}

/** The base score of a `CVSS:3.x/AV:…` vector, or undefined when it is not a complete v3 vector. */
export function cvss3Score(vector: string): number | undefined {
  const parts = vector.trim().split('/');
  if (!/^CVSS:3\.[01]$/.test(parts[0] ?? '')) return undefined;
  const m = new Map(parts.slice(1).map((p) => p.split(':') as [string, string]));
  const get = <T extends Record<string, number>>(key: string, table: T) => table[m.get(key) as keyof T];
  const scope = m.get('S');
  if (scope !== 'U' && scope !== 'C') return undefined;
  const changed = scope === 'C';
  const pr = { N: 0.85, L: changed ? 0.68 : 0.62, H: changed ? 0.5 : 0.27 }[m.get('PR') as 'N' | 'L' | 'H'];
  const av = get('AV', W.AV);
  const ac = get('AC', W.AC);
  const ui = get('UI', W.UI);
  const c = get('C', W.CIA);
  const i = get('I', W.CIA);
  const a = get('A', W.CIA);
  if ([pr, av, ac, ui, c, i, a].some((v) => v === undefined)) return undefined;
  const iss = 1 - (1 - c!) * (1 - i!) * (1 - a!);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  const exploitability = 8.22 * av! * ac! * pr! * ui!;
  if (impact <= 0) return 0;
  return roundup(Math.min((changed ? 1.08 : 1) * (impact + exploitability), 10));
}

/** The CVSS v3 qualitative rating of a score. */
export function ratingOf(score: number): VulnSeverity {
  if (score === 0) return 'none';
  if (score < 4) return 'low';
  if (score < 7) return 'medium';
  if (score < 9) return 'high';
  return 'critical';
}

export const severityRank = (s: VulnSeverity): number => SEVERITIES.indexOf(s);
