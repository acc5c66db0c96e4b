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

/** The leaf of one manifest entry: its known fields only, in canonical JSON. */
export function manifestLeaf(entry: FileEntry): string {
  const { path, type, mode, size, digest, target } = entry;
  return canonicalJson({ path, type, mode, size, digest, target });
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
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const root = merkleRoot(sorted.map((entry) => leafHash(manifestLeaf(entry))));
  return `sha256:${root.toString('hex')}`;
}
