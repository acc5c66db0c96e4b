/**
 * The scan gate: where an environment sets `maxSeverity`, the release's SBOM is scanned against
 * the local OSV database and every finding above that severity that is not accepted (or whose
 * acceptance expired) denies. A scan is attached to the image as a signed in-toto attestation
 * (cosign's vuln predicate), so a later door reuses it unless the database is newer.
 */
import type { ImageStore } from '../artifact/index.js';
import type { PolicyFinding, PolicyInput } from '../policy/index.js';
import type { LoadedSpec } from '../spec/index.js';
import { addAttestation, imageStatement, type SigningKey } from '../trust/index.js';
import {
  type Finding,
  type JudgedFinding,
  judgeFindings,
  SEVERITIES,
  scanPurls,
  severityRank,
  VulnDb,
} from '../vuln/index.js';
import { type Evidence, VULN_PREDICATE_TYPE } from './evidence.js';
import type { ScanResult } from './gatekeeper.js';
import type { GateFailure, GateRequest } from './types.js';

export const SCANNER_URI = 'https://cairn.dev/scanner/osv';
export const SCANNER_DB_URI = 'https://osv.dev';

/** cosign's vulnerability attestation predicate, with OSV findings as the result. */
export interface ScanPredicate {
  invocation: { uri: string; event_id: string };
  scanner: {
    uri: string;
    version: string;
    db: { uri: string; version: string };
    result: { components: number; findings: Finding[] };
  };
  metadata: { scanStartedOn: string; scanFinishedOn: string };
}

export interface ScanGateDeps {
  images: ImageStore;
  /** `.cairn/vuln.db` of the workspace. */
  dbFile: string;
  signingKey: () => SigningKey | undefined;
  now?: () => Date;
}

/** The purls of a CycloneDX document's components. */
export function sbomPurls(sbom: unknown): string[] {
  const list = (sbom as { components?: Array<{ purl?: unknown }> } | undefined)?.components ?? [];
  return list.map((c) => c.purl).filter((p): p is string => typeof p === 'string');
}

/**
 * Findings of the newest scan attestation, when no re-scan could tell more: it was made against
 * this very database (`asOf`), or — signed by a key the environment trusts, e.g. on the build
 * host before the image was pushed — against a database at least as new as this one. A local
 * database newer than the scan means a re-scan.
 */
export function reusable(evidence: Evidence, asOf: string): Finding[] | undefined {
  const p = evidence.scan as Partial<ScanPredicate> | undefined;
  const version = p?.scanner?.db?.version;
  if (p?.scanner?.uri !== SCANNER_URI || typeof version !== 'string') return undefined;
  const fresh =
    version === asOf || (evidence.scanTrusted === true && Date.parse(version) >= Date.parse(asOf));
  if (!fresh) return undefined;
  return Array.isArray(p.scanner.result?.findings) ? p.scanner.result.findings : undefined;
}

const fail = (rule: string, message: string, field?: string): GateFailure => ({
  gate: 'scan',
  rule,
  message,
  ...(field ? { field } : {}),
});

export function findingLine(f: JudgedFinding): string {
  const score = f.score !== undefined ? ` ${f.score}` : '';
  const fix = f.fixed ? `, fixed in ${f.fixed}` : ', no fix yet';
  const aliases = f.aliases.length ? ` (${f.aliases.join(', ')})` : '';
  return `${f.package} ${f.installed} is affected${aliases}: ${f.severity}${score}${fix}`;
}

/** The scan gate, as the gatekeeper asks it. */
export function scanGate(deps: ScanGateDeps) {
  return async (
    loaded: LoadedSpec,
    req: GateRequest,
    evidence: Evidence,
  ): Promise<ScanResult | undefined> => {
    const max = loaded.spec.environments[req.env]?.maxSeverity;
    if (!max) return undefined;
    const now = deps.now?.() ?? new Date();
    const empty = (failure: GateFailure): ScanResult => ({
      failures: [failure],
      warnings: [],
      summary: { blocking: [], accepted: [], reused: false },
      input: { present: false, dbAsOf: '', maxSeverity: 'none', findings: [] },
    });
    if (!evidence.sbom) {
      return empty(fail('sbom', 'the image has no SBOM attestation to scan', 'attestations'));
    }
    let db: VulnDb;
    try {
      db = VulnDb.open(deps.dbFile);
    } catch {
      return empty(
        fail(
          'vuln.db',
          'no vulnerability database in this workspace: import OSV data with `cairn vuln db import PATH`',
        ),
      );
    }
    try {
      const meta = db.meta();
      if (!meta) return empty(fail('vuln.db', 'the vulnerability database is empty: import OSV data first'));
      const created = Date.parse(String(evidence.config.created ?? ''));
      if (Number.isFinite(created) && created > Date.parse(meta.asOf)) {
        return empty(
          fail(
            'vuln.db',
            `the vulnerability database (imported ${meta.asOf}) is older than the image (created ${String(evidence.config.created)}): import newer OSV data`,
          ),
        );
      }
      let findings = reusable(evidence, meta.asOf);
      const reused = findings !== undefined;
      if (!findings) {
        const started = new Date();
        const report = scanPurls(db, sbomPurls(evidence.sbom), meta.asOf);
        findings = report.findings;
        await attachScan(deps, req, {
          invocation: { uri: 'cairn', event_id: `${req.stage} ${req.env} ${req.releaseId}` },
          scanner: {
            uri: SCANNER_URI,
            version: '1',
            db: { uri: SCANNER_DB_URI, version: meta.asOf },
            result: { components: report.components, findings },
          },
          metadata: { scanStartedOn: started.toISOString(), scanFinishedOn: new Date().toISOString() },
        });
      }
      const judged = judgeFindings(findings, loaded.spec.vuln?.ignore ?? [], req.service, max, now);
      const failures = judged
        .filter((f) => f.blocking)
        .map((f) =>
          fail(
            f.id,
            `${findingLine(f)} — above maxSeverity ${max}${f.acceptance?.expired ? `; its acceptance expired ${f.acceptance.expires}` : ''}`,
            f.purl,
          ),
        );
      const warnings = judged
        .filter((f) => f.accepted)
        .map((f) => `scan ${f.id}: accepted until ${f.acceptance?.expires} (${f.acceptance?.reason})`);
      const worst = judged.reduce(
        (w, f) =>
          f.accepted || f.severity === 'unknown' || severityRank(f.severity) <= severityRank(w)
            ? w
            : f.severity,
        SEVERITIES[0]!,
      );
      const input: PolicyInput['scan'] = {
        present: true,
        dbAsOf: meta.asOf,
        maxSeverity: worst,
        findings: judged.map(
          (f): PolicyFinding => ({
            id: f.id,
            aliases: f.aliases,
            package: f.package,
            ecosystem: f.ecosystem,
            installed: f.installed,
            fixed: f.fixed ?? '',
            severity: f.severity,
            score: f.score ?? 0,
            accepted: f.accepted,
          }),
        ),
      };
      return {
        failures,
        warnings,
        summary: {
          dbAsOf: meta.asOf,
          blocking: failures.map((f) => f.rule),
          accepted: judged.filter((f) => f.accepted).map((f) => f.id),
          reused,
        },
        input,
      };
    } finally {
      db.close();
    }
  };
}

async function attachScan(deps: ScanGateDeps, req: GateRequest, predicate: ScanPredicate): Promise<void> {
  const key = deps.signingKey();
  if (!key) return;
  const image = await deps.images.resolve(req.imageDigest);
  await addAttestation(
    deps.images,
    image,
    imageStatement(req.service, req.imageDigest, VULN_PREDICATE_TYPE, predicate),
    key,
  );
}
