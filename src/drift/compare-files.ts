/** Compares a bundle's file manifest with a fresh listing of its rootfs: one reason per difference. */
import type { FileEntry } from '../runtime/index.js';
import type { DriftReason } from './types.js';

const octal = (mode: number) => `0${mode.toString(8)}`;

/** Both lists in any order; reasons come out sorted by path. */
export function compareFiles(manifest: FileEntry[], files: FileEntry[]): DriftReason[] {
  const want = new Map(manifest.map((e) => [e.path, e]));
  const have = new Map(files.map((e) => [e.path, e]));
  const reasons: DriftReason[] = [];
  for (const [path, e] of want) {
    const o = have.get(path);
    if (!o) reasons.push({ kind: 'file', path, change: 'removed', expected: describe(e) });
    else reasons.push(...entryReasons(e, o));
  }
  for (const [path, o] of have) {
    if (!want.has(path)) reasons.push({ kind: 'file', path, change: 'added', observed: describe(o) });
  }
  return reasons.sort((a, b) => (pathOf(a) < pathOf(b) ? -1 : pathOf(a) > pathOf(b) ? 1 : 0));
}

function entryReasons(e: FileEntry, o: FileEntry): DriftReason[] {
  const path = e.path;
  if (e.type !== o.type) return [{ kind: 'file', path, change: 'type', expected: e.type, observed: o.type }];
  const reasons: DriftReason[] = [];
  if (e.type === 'file' && (e.digest !== o.digest || e.size !== o.size)) {
    reasons.push({
      kind: 'file',
      path,
      change: 'content',
      expected: `${e.digest} (${e.size} bytes)`,
      observed: `${o.digest} (${o.size} bytes)`,
    });
  }
  if (e.type === 'symlink' && e.target !== o.target) {
    reasons.push({
      kind: 'file',
      path,
      change: 'target',
      expected: e.target ?? '',
      observed: o.target ?? '',
    });
  }
  // A symlink's own mode means nothing on Linux.
  if (e.type !== 'symlink' && e.mode !== o.mode) {
    reasons.push({ kind: 'file', path, change: 'mode', expected: octal(e.mode), observed: octal(o.mode) });
  }
  return reasons;
}

function describe(e: FileEntry): string {
  if (e.type === 'file') return `file ${e.digest} (${e.size} bytes)`;
  if (e.type === 'symlink') return `symlink to ${e.target}`;
  return 'dir';
}

function pathOf(r: DriftReason): string {
  return r.kind === 'file' ? r.path : '';
}
