/**
 * Where cairn.yaml is. Apart from the loader so that a CLI verb that only needs the workspace's
 * location (status, ps, …) does not load the YAML parser and CEL.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { NotFoundError } from '../lib/errors.js';

export const SPEC_FILE = 'cairn.yaml';

/** Finds cairn.yaml: the given file, or the nearest one in this folder or a parent. */
export function findSpecFile(file: string | undefined, cwd: string = process.cwd()): string {
  if (file) return file;
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = resolve(dir, SPEC_FILE);
    if (isFile(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new NotFoundError(`finding ${SPEC_FILE}: none in this folder or its parents`, {
    hint: 'run cairn from your project folder, or pass -f path/to/cairn.yaml',
  });
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
