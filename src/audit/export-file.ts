/** Verifying an export file on a machine without `.cairn/`: stream its lines into `verifyLog`. */
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { NotFoundError } from '../lib/index.js';
import { parseExport, sameKey } from './export-format.js';
import { readLines } from './read-lines.js';
import { type VerifyReport, verifyLog } from './verify.js';

/** Verifies `file` against the auditor's copy of the public key (never the copy inside the file). */
export function verifyExportFile(file: string, publicKey: KeyObject): VerifyReport {
  if (!existsSync(file)) {
    throw new NotFoundError(`verifying the export: ${file} does not exist`, {
      hint: 'create it with `cairn audit export > FILE`',
    });
  }
  const lines = readLines(file);
  try {
    const parsed = parseExport(lines, file);
    const report = verifyLog({
      entries: parsed.entries,
      checkpoints: parsed.checkpoints,
      publicKey,
      origin: parsed.header.origin,
    });
    report.findings.push(...parsed.findings);
    if (!sameKey(parsed.header, publicKey)) {
      report.findings.push({ problem: 'the export names another public key than the one given with --key' });
    }
    report.findings.sort(
      (a, b) => (a.index ?? Number.MAX_SAFE_INTEGER) - (b.index ?? Number.MAX_SAFE_INTEGER),
    );
    report.ok = report.findings.length === 0;
    report.firstBadIndex = report.findings.find((f) => f.index !== undefined)?.index;
    return report;
  } finally {
    lines.return(undefined);
  }
}
