/**
 * Reading OSV records from disk: a directory of .json files (recursively), or a zip of them read
 * entry by entry (a 1 GB ecosystem zip never sits in memory whole).
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { NotFoundError, ValidationError } from '../lib/index.js';
import type { OsvSourceRecord } from './db.js';
import { ZipError, zipEntries } from './zip-entries.js';

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
  const head = Buffer.alloc(2);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  if (head[0] !== 0x50 || head[1] !== 0x4b) {
    // One JSON record on its own.
    yield { source: path, text: readFileSync(path, 'utf8') };
    return;
  }
  const decoder = new TextDecoder();
  try {
    for (const { name, data } of zipEntries(path, (n) => n.endsWith('.json')))
      yield { source: `${path}:${name}`, text: decoder.decode(data) };
  } catch (error) {
    if (!(error instanceof ZipError)) throw error;
    throw new ValidationError(`importing OSV data: ${path} is not a readable zip (${error.message})`, [], {
      hint: 'download the ecosystem zip again (e.g. https://osv-vulnerabilities.storage.googleapis.com/npm/all.zip)',
    });
  }
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
