/**
 * Findings as a CycloneDX 1.6 vulnerabilities document (VEX): each advisory with its source,
 * aliases, CVSS rating, the affected component by package URL, the fix, and — for an accepted
 * finding — the analysis an auditor reads (will not fix, until the acceptance expires).
 */
import type { JudgedFinding } from './scan.js';

export function cyclonedxVex(
  image: { name: string; digest: string },
  findings: readonly JudgedFinding[],
  dbAsOf: string,
  now: Date,
): Record<string, unknown> {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    metadata: {
      timestamp: now.toISOString(),
      tools: { components: [{ type: 'application', name: 'cairn scan', version: '1' }] },
      component: { type: 'container', 'bom-ref': image.digest, name: image.name, version: image.digest },
      properties: [{ name: 'cairn:vuln-db-as-of', value: dbAsOf }],
    },
    vulnerabilities: findings.map((f) => ({
      'bom-ref': `${f.id}@${f.purl}`,
      id: f.id,
      source: { name: 'OSV', url: `https://osv.dev/vulnerability/${f.id}` },
      ...(f.aliases.length
        ? { references: f.aliases.map((a) => ({ id: a, source: { name: sourceOf(a) } })) }
        : {}),
      ratings: [
        {
          ...(f.score !== undefined ? { score: f.score } : {}),
          severity: f.severity,
          ...(f.vector
            ? { method: f.vector.startsWith('CVSS:3.1') ? 'CVSSv31' : 'CVSSv3', vector: f.vector }
            : { method: 'other' }),
        },
      ],
      ...(f.summary ? { description: f.summary } : {}),
      ...(f.fixed ? { recommendation: `upgrade ${f.package} to ${f.fixed}` } : {}),
      affects: [{ ref: f.purl, versions: [{ version: f.installed, status: 'affected' }] }],
      ...(f.acceptance
        ? {
            analysis: f.accepted
              ? {
                  state: 'exploitable',
                  response: ['will_not_fix'],
                  detail: `accepted until ${f.acceptance.expires}: ${f.acceptance.reason}`,
                }
              : {
                  state: 'exploitable',
                  detail: `acceptance expired ${f.acceptance.expires}: ${f.acceptance.reason}`,
                },
          }
        : {}),
    })),
  };
}

function sourceOf(id: string): string {
  if (id.startsWith('CVE-')) return 'NVD';
  if (id.startsWith('GHSA-')) return 'GitHub';
  return 'OSV';
}
