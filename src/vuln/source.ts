/** Reading OSV records from disk: a directory of .json files (recursively) or a zip of them. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { unzipSync } from 'fflate';
import { NotFoundError, ValidationError } from '../lib/index.js';
import type { OsvSourceRecord } from './db.js';

export function* osvRecordsAt(path: string): Generator<OsvSourceRecord> {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (error) {
    throw new NotFoundError(
      `importing OSV data: ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      {
        hint: 'name a directory of OSV .json records or a zip of them',
      },
    );
  }
  if (isDir) {
    for (const file of jsonFiles(path))
      yield { source: relative(path, file) || file, text: readFileSync(file, 'utf8') };
    return;
  }
  const bytes = readFileSync(path);
  if (bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    // One JSON record on its own.
    yield { source: path, text: bytes.toString('utf8') };
    return;
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, { filter: (f) => f.name.endsWith('.json') });
  } catch (error) {
    throw new ValidationError(
      `importing OSV data: ${path} is not a readable zip (${(error as Error).message})`,
      [],
      {
        hint: 'download the ecosystem zip again (e.g. https://osv-vulnerabilities.storage.googleapis.com/npm/all.zip)',
      },
    );
  }
  const decoder = new TextDecoder();
  for (const name of Object.keys(entries).sort())
    yield { source: `${path}:${name}`, text: decoder.decode(entries[name]) };
}

function jsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...jsonFiles(full));
    else if (entry.isFile() && entry.name.endsWith('.json')) out.push(full);
  }
  return out;
}
