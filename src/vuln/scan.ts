/**
 * Scanning an SBOM: each component's package URL → OSV ecosystem and name, its advisories from the
 * local database, and whether its installed version is affected. Accepted findings (`vuln.ignore`)
 * are marked with their reason until they expire; an expired acceptance counts as none.
 */
import { PackageURL } from 'packageurl-js';
import type { VulnAcceptance, VulnSeverity } from '../spec/index.js';
import { severityRank } from './cvss.js';
import type { VulnDb } from './db.js';
import { affectedBy, comparatorFor } from './osv.js';

export interface Finding {
  id: string;
  aliases: string[];
  summary: string;
  /** The package as OSV names it (`minimist`, `glibc`). */
  package: string;
  ecosystem: string;
  purl: string;
  installed: string;
  /** The lowest fixed version above the installed one, when the advisory names one. */
  fixed?: string;
  /** From the CVSS v3 vector, else the database's rating; `unknown` gates as `high`. */
  severity: VulnSeverity | 'unknown';
  score?: number;
  vector?: string;
}

export interface ScanReport {
  dbAsOf: string;
  components: number;
  findings: Finding[];
}

/** A finding with what the spec says about it now. */
export interface JudgedFinding extends Finding {
  accepted: boolean;
  acceptance?: { reason: string; expires: string; expired: boolean };
  blocking: boolean;
}

/** Where OSV looks a package URL up: ecosystems to ask and the package name there. */
export function osvPackageOf(
  purl: string,
): { ecosystems: string[]; name: string; version: string } | undefined {
  let p: PackageURL;
  try {
    p = PackageURL.fromString(purl);
  } catch {
    return undefined;
  }
  if (!p.version) return undefined;
  if (p.type === 'npm')
    return {
      ecosystems: ['npm'],
      name: p.namespace ? `${p.namespace}/${p.name}` : p.name,
      version: p.version,
    };
  if (p.type === 'deb' && p.namespace === 'debian') {
    const release = /^debian-(\d+)/.exec(p.qualifiers?.distro ?? '')?.[1];
    const name = p.qualifiers?.upstream ?? p.name;
    return { ecosystems: release ? [`Debian:${release}`, 'Debian'] : ['Debian'], name, version: p.version };
  }
  return undefined;
}

/** Every advisory that affects a component, once per (advisory, package). */
export function scanPurls(db: VulnDb, purls: readonly string[], dbAsOf: string): ScanReport {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const purl of purls) {
    const pkg = osvPackageOf(purl);
    if (!pkg) continue;
    for (const row of db.lookup(pkg.ecosystems, pkg.name)) {
      const compare = comparatorFor(row.ecosystem);
      if (!compare) continue;
      const hit = affectedBy(row.affected, pkg.version, compare);
      const key = `${row.id} ${row.name} ${pkg.version}`;
      if (!hit.affected || seen.has(key)) continue;
      seen.add(key);
      findings.push({
        id: row.id,
        aliases: row.aliases,
        summary: row.summary,
        package: row.name,
        ecosystem: row.ecosystem,
        purl,
        installed: pkg.version,
        ...(hit.fixed ? { fixed: hit.fixed } : {}),
        severity: (row.severity as VulnSeverity | undefined) ?? 'unknown',
        ...(row.score !== undefined ? { score: row.score } : {}),
        ...(row.vector ? { vector: row.vector } : {}),
      });
    }
  }
  findings.sort((a, b) => (b.score ?? 0) - (a.score ?? 0) || a.id.localeCompare(b.id));
  return { dbAsOf, components: purls.length, findings };
}

/** Marks accepted findings (by id or alias, for the service) and which ones exceed `maxSeverity`. */
export function judgeFindings(
  findings: readonly Finding[],
  acceptances: readonly VulnAcceptance[],
  service: string,
  maxSeverity: VulnSeverity | undefined,
  now: Date,
): JudgedFinding[] {
  return findings.map((f) => {
    const a = acceptances.find(
      (x) => (x.id === f.id || f.aliases.includes(x.id)) && (!x.services || x.services.includes(service)),
    );
    const expired = a ? Date.parse(a.expires) <= now.getTime() : false;
    const accepted = a !== undefined && !expired;
    const rank = severityRank(f.severity === 'unknown' ? 'high' : f.severity);
    const blocking = !accepted && maxSeverity !== undefined && rank > severityRank(maxSeverity);
    return {
      ...f,
      accepted,
      ...(a ? { acceptance: { reason: a.reason, expires: a.expires, expired } } : {}),
      blocking,
    };
  });
}
