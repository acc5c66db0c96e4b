/**
 * The frontier (compact range) of a log: the heads of the complete subtrees that make up its
 * first `size` leaves, largest first — one per set bit of `size`, so at most 64 hashes. Enough to
 * append leaves and compute the tree head without reading the earlier leaves again. Pure.
 */
import { hash } from 'node:crypto';
import { EMPTY_ROOT, HASH_BYTES, nodeHash } from './merkle.js';

export interface Frontier {
  size: number;
  /** Subtree heads, left (largest) to right (smallest). */
  hashes: Buffer[];
}

export const emptyFrontier = (): Frontier => ({ size: 0, hashes: [] });

/** How many complete subtrees a log of `size` leaves has: the number of set bits of `size`. */
export function frontierLength(size: number): number {
  let bits = 0;
  for (let n = size; n > 0; n = Math.floor(n / 2)) bits += n % 2;
  return bits;
}

/** Appends one leaf hash, merging equal-sized subtrees as binary addition carries. */
export function appendLeaf(frontier: Frontier, leaf: Uint8Array): Frontier {
  const hashes = [...frontier.hashes, Buffer.from(leaf)];
  // Trailing one bits of the old size are the subtrees the new leaf completes.
  for (let n = frontier.size; n % 2 === 1; n = Math.floor(n / 2)) {
    const right = hashes.pop()!;
    const left = hashes.pop()!;
    hashes.push(nodeHash(left, right));
  }
  return { size: frontier.size + 1, hashes };
}

/** More subtree heads than a frontier of any size below 2^53 can hold, plus the one being merged. */
const MAX_HEADS = 64;

/**
 * `appendLeaf` for a run of leaf hashes packed back to back (32 bytes each), in bulk: the heads
 * live in one stack buffer, where the two being merged sit side by side, and each node hash comes
 * back as a 'binary' (latin1) string written over them — no Buffer per node for the collector, which
 * costs more than the hash itself.
 */
export function extendFrontier(frontier: Frontier, leaves: Buffer): Frontier {
  const stack = Buffer.allocUnsafe(MAX_HEADS * HASH_BYTES);
  const node = Buffer.allocUnsafe(1 + 2 * HASH_BYTES);
  node[0] = 0x01;
  let depth = 0;
  for (const head of frontier.hashes) stack.set(head, depth++ * HASH_BYTES);
  let size = frontier.size;
  for (let at = 0; at + HASH_BYTES <= leaves.length; at += HASH_BYTES, size++) {
    leaves.copy(stack, depth++ * HASH_BYTES, at, at + HASH_BYTES);
    // Trailing one bits of the old size are the subtrees the new leaf completes.
    for (let n = size; n % 2 === 1; n = Math.floor(n / 2)) {
      depth--;
      const left = (depth - 1) * HASH_BYTES;
      stack.copy(node, 1, left, left + 2 * HASH_BYTES);
      stack.write(hash('sha256', node, 'binary'), left, 'binary');
    }
  }
  const hashes: Buffer[] = [];
  for (let i = 0; i < depth; i++)
    hashes.push(Buffer.from(stack.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)));
  return { size, hashes };
}

/** The RFC 6962 tree head: the subtree heads folded from the right. */
export function frontierRoot(frontier: Frontier): Buffer {
  if (frontier.hashes.length === 0) return Buffer.from(EMPTY_ROOT);
  let root = frontier.hashes.at(-1)!;
  for (let i = frontier.hashes.length - 2; i >= 0; i--) root = nodeHash(frontier.hashes[i]!, root);
  return root;
}

/** Packs the hashes into one buffer (for storage next to a checkpoint). */
export function encodeFrontier(frontier: Frontier): Buffer {
  return Buffer.concat(frontier.hashes);
}

/** Unpacks a stored frontier; undefined when the bytes cannot be the frontier of `size` leaves. */
export function decodeFrontier(size: number, bytes: Uint8Array): Frontier | undefined {
  if (bytes.length !== frontierLength(size) * HASH_BYTES) return undefined;
  const hashes: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += HASH_BYTES)
    hashes.push(Buffer.from(bytes.subarray(i, i + HASH_BYTES)));
  return { size, hashes };
}
