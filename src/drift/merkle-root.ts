/**
 * The bundle's root hash: one digest that commits to every path of its file manifest (type, mode,
 * size, content digest, symlink target), recorded in an instance's identity when it starts.
 * Pure: manifest entries in, `sha256:<hex>` out.
 *
 * Definition (stable: recorded hashes must stay comparable): the entries are sorted by path in
 * UTF-16 code unit order (the order of files.json); each leaf is the canonical JSON of the entry's
 * known fields only; the root is the RFC 6962 Merkle tree head over those leaves
 * (leaf `SHA256(0x00‖json)`, node `SHA256(0x01‖left‖right)`), so one path can later be proven
 * part of a bundle with an inclusion proof. An empty manifest hashes to SHA-256 of nothing.
 */
import { leafHash, merkleRoot } from '../audit/index.js';
import { canonicalJson } from '../lib/index.js';
import type { FileEntry } from '../runtime/index.js';

/** The fields of a manifest entry, in canonical (sorted) key order. */
const LEAF_KEYS = ['digest', 'mode', 'path', 'size', 'target', 'type'] as const;

/**
 * The leaf of one manifest entry: its known fields only, in canonical JSON — exactly
 * `canonicalJson({ path, type, mode, size, digest, target })`, written directly because a bundle
 * has tens of thousands of entries and the generic encoder costs several times more.
 */
export function manifestLeaf(entry: FileEntry): string {
  let json = '';
  for (const key of LEAF_KEYS) {
    const value: unknown = entry[key];
    if (value === undefined) continue;
    const encoded =
      typeof value === 'object' && value !== null ? canonicalJson(value) : JSON.stringify(value);
    json += `${json ? ',' : '{'}"${key}":${encoded}`;
  }
  return json ? `${json}}` : '{}';
}

/**
 * The Merkle root of a bundle's file manifest, whatever order `entries` come in.
 *
 * @example
 * ```ts
 * const rootHash = bundleRootHash(await bundleFiles(bundle)); // 'sha256:…'
 * ```
 */
export function bundleRootHash(entries: readonly FileEntry[]): string {
  const sorted = isSortedByPath(entries) ? entries : [...entries].sort(byPath);
  const root = merkleRoot(sorted.map((entry) => leafHash(manifestLeaf(entry))));
  return `sha256:${root.toString('hex')}`;
}

function byPath(a: FileEntry, b: FileEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** Manifests and listings come sorted already: checking is cheaper than sorting a copy. */
function isSortedByPath(entries: readonly FileEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) if (byPath(entries[i - 1]!, entries[i]!) > 0) return false;
  return true;
}
