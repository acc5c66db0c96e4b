/**
 * OSV records (https://ossf.github.io/osv-schema/): checking one, reading its severity, and
 * deciding whether an installed version is affected by its ranges — pure.
 */
import type { VulnSeverity } from '../spec/index.js';
import { cvss3Score, ratingOf } from './cvss.js';
import { type Comparator, compareDebian, compareSemver } from './versions.js';

export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

export interface OsvAffected {
  package: { ecosystem: string; name: string; purl?: string };
  ranges?: Array<{ type: string; events: OsvEvent[] }>;
  versions?: string[];
}

export interface OsvRecord {
  id: string;
  modified: string;
  published?: string;
  aliases?: string[];
  summary?: string;
  severity?: Array<{ type: string; score: string }>;
  affected?: OsvAffected[];
  database_specific?: { severity?: string };
}

/** What is wrong with a record, as sentences; empty when it can be indexed. */
export function osvProblems(value: unknown): string[] {
  const r = value as Partial<OsvRecord> | null;
  const problems: string[] = [];
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return ['an OSV record is a JSON object'];
  if (typeof r.id !== 'string' || r.id === '') problems.push('no "id"');
  if (typeof r.modified !== 'string' || Number.isNaN(Date.parse(r.modified)))
    problems.push('no RFC 3339 "modified"');
  if (r.aliases !== undefined && !(Array.isArray(r.aliases) && r.aliases.every((a) => typeof a === 'string')))
    problems.push('"aliases" must be a list of strings');
  if (r.affected !== undefined && !Array.isArray(r.affected)) problems.push('"affected" must be a list');
  for (const [i, a] of (Array.isArray(r.affected) ? r.affected : []).entries()) {
    if (typeof a?.package?.ecosystem !== 'string' || typeof a?.package?.name !== 'string')
      problems.push(`affected[${i}] needs package.ecosystem and package.name`);
    for (const [j, range] of (a?.ranges ?? []).entries()) {
      if (typeof range?.type !== 'string' || !Array.isArray(range?.events) || range.events.length === 0)
        problems.push(`affected[${i}].ranges[${j}] needs a type and events`);
      else if (
        !range.events.every(
          (e) => typeof e === 'object' && e !== null && Object.values(e).every((v) => typeof v === 'string'),
        )
      )
        problems.push(`affected[${i}].ranges[${j}].events must be objects of version strings`);
    }
    if (
      a?.versions !== undefined &&
      !(Array.isArray(a.versions) && a.versions.every((v) => typeof v === 'string'))
    )
      problems.push(`affected[${i}].versions must be a list of strings`);
  }
  return problems;
}

/** Severity from the record's CVSS v3 vector, else the database's own rating; undefined when neither. */
export function osvSeverity(
  r: OsvRecord,
): { severity: VulnSeverity; score?: number; vector?: string } | undefined {
  for (const s of r.severity ?? []) {
    if (s.type !== 'CVSS_V3') continue;
    const score = cvss3Score(s.score);
    if (score !== undefined) return { severity: ratingOf(score), score, vector: s.score };
  }
  const named = r.database_specific?.severity?.toLowerCase();
  if (named === 'moderate') return { severity: 'medium' };
  if (named === 'low' || named === 'medium' || named === 'high' || named === 'critical')
    return { severity: named };
  return undefined;
}

/** The comparator of an OSV ecosystem, or undefined when cairn cannot order its versions. */
export function comparatorFor(ecosystem: string): Comparator | undefined {
  if (ecosystem === 'npm') return compareSemver;
  if (ecosystem === 'Debian' || ecosystem.startsWith('Debian:')) return compareDebian;
  return undefined;
}

/**
 * Is `version` affected, and by which fix is it resolved? The OSV evaluation: events sorted by
 * version, `introduced` opens a range, `fixed` closes it before, `last_affected` after.
 */
export function affectedBy(
  a: OsvAffected,
  version: string,
  compare: Comparator,
): { affected: boolean; fixed?: string } {
  if (a.versions?.includes(version)) return { affected: true, ...fixOf(a, version, compare) };
  for (const range of a.ranges ?? []) {
    if (range.type !== 'SEMVER' && range.type !== 'ECOSYSTEM') continue;
    const at = (v: string) => (v === '0' ? 1 : compare(version, v));
    const sorted = [...range.events].sort((x, y) => cmpEvent(x, y, compare));
    let affected = false;
    for (const e of sorted) {
      if (e.introduced !== undefined && at(e.introduced) >= 0) affected = true;
      else if (e.fixed !== undefined && at(e.fixed) >= 0) affected = false;
      else if (e.last_affected !== undefined && at(e.last_affected) > 0) affected = false;
      else if (e.limit !== undefined && at(e.limit) >= 0) affected = false;
    }
    if (affected) return { affected: true, ...fixOf(a, version, compare) };
  }
  return { affected: false };
}

function eventVersion(e: OsvEvent): string {
  return e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? '0';
}

function cmpEvent(x: OsvEvent, y: OsvEvent, compare: Comparator): number {
  const a = eventVersion(x);
  const b = eventVersion(y);
  if (a === '0' || b === '0') return a === b ? 0 : a === '0' ? -1 : 1;
  return compare(a, b);
}

/** The lowest fix above the installed version. */
function fixOf(a: OsvAffected, version: string, compare: Comparator): { fixed?: string } {
  const fixes = (a.ranges ?? [])
    .flatMap((r) => r.events.map((e) => e.fixed))
    .filter((f): f is string => f !== undefined && compare(f, version) > 0)
    .sort(compare);
  return fixes[0] ? { fixed: fixes[0] } : {};
}
