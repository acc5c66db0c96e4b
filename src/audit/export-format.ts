/**
 * The export file an auditor verifies without `.cairn/`: line 1 a JSON header (format, origin,
 * public key PEM, counts), then one line per checkpoint (the signed note as a JSON string), then
 * one line per entry — its exact canonical JSON bytes, so the leaf hashes can be recomputed.
 * Pure: lines in, verification input out.
 */
import type { KeyObject } from 'node:crypto';
import { ValidationError } from '../lib/index.js';
import type { EntryRecord, Finding } from './verify.js';

export const EXPORT_FORMAT = 'cairn.dev/audit-export@v1';

export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  origin?: string;
  /** SPKI PEM of the audit key that signed the checkpoints (for reference: verify with your own copy). */
  publicKey: string;
  entries: number;
  checkpoints: number;
  exportedAt: string;
}

export function formatExportHeader(header: Omit<ExportHeader, 'format'>): string {
  return JSON.stringify({ format: EXPORT_FORMAT, ...header });
}

export interface ParsedExport {
  header: ExportHeader;
  checkpoints: string[];
  entries: Iterable<EntryRecord>;
  /** Filled while `entries` is iterated: a file with fewer or more entries than its header says. */
  findings: Finding[];
}

/** Reads an export from its lines; entries stay lazy so a million of them stream through. */
export function parseExport(lines: Iterator<string>, file: string): ParsedExport {
  const first = lines.next();
  let header: ExportHeader;
  try {
    header = JSON.parse(first.done ? '' : first.value) as ExportHeader;
  } catch {
    throw new ValidationError(`reading ${file}: the first line is not a cairn audit export header`, [], {
      hint: 'create the file with `cairn audit export > FILE`',
    });
  }
  if (header.format !== EXPORT_FORMAT) {
    throw new ValidationError(
      `reading ${file}: format "${String(header.format)}" is not ${EXPORT_FORMAT}`,
      [],
    );
  }
  const checkpoints: string[] = [];
  for (let i = 0; i < header.checkpoints; i++) {
    const line = lines.next();
    if (line.done)
      throw new ValidationError(`reading ${file}: it ends inside the checkpoints (line ${i + 2})`, []);
    checkpoints.push(JSON.parse(line.value) as string);
  }
  const findings: Finding[] = [];
  return { header, checkpoints, entries: entryLines(lines, header.entries, findings), findings };
}

function* entryLines(lines: Iterator<string>, expected: number, findings: Finding[]): Generator<EntryRecord> {
  let count = 0;
  for (let line = lines.next(); !line.done; line = lines.next()) {
    if (line.value === '') continue;
    count++;
    yield { bytes: line.value };
  }
  if (count !== expected) {
    findings.push({
      index: Math.min(count, expected),
      problem: `the export holds ${count} entries, its header says ${expected}`,
    });
  }
}

/** Whether the key in the header is the key the auditor trusts. */
export function sameKey(header: ExportHeader, trusted: KeyObject): boolean {
  return header.publicKey.trim() === String(trusted.export({ format: 'pem', type: 'spki' })).trim();
}
