/**
 * RFC 6962 Merkle tree hashing: leaf `SHA256(0x00‖entry)`, node `SHA256(0x01‖left‖right)`, the
 * tree head of any prefix of the log, and audit paths. Pure: bytes in, bytes out.
 * `MerkleTree` keeps every complete subtree hash, so proofs cost O(log² n) after one O(n) build.
 */
import { hash } from 'node:crypto';

export const HASH_BYTES = 32;
/** The tree head of the empty log: SHA-256 of nothing. */
export const EMPTY_ROOT: Buffer = hash('sha256', Buffer.alloc(0), 'buffer');

const leafScratch = { buf: Buffer.alloc(4096) };
const nodeScratch = Buffer.alloc(1 + 2 * HASH_BYTES);

/** `SHA256(0x00 ‖ entry)`; a string entry is hashed as its UTF-8 bytes. */
export function leafHash(entry: string | Uint8Array): Buffer {
  return hash('sha256', leafPreimage(entry), 'buffer');
}

/** `leafHash` as hex: the append path stores it so, sparing a Buffer per entry for the collector. */
export function leafHashHex(entry: string | Uint8Array): string {
  return hash('sha256', leafPreimage(entry), 'hex');
}

/** `0x00 ‖ entry` in a scratch buffer, valid until the next call. */
function leafPreimage(entry: string | Uint8Array): Buffer {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: size the scratch once, then write without measuring.
  const most = 1 + (typeof entry === 'string' ? entry.length * 3 : entry.length);
  if (most > leafScratch.buf.length) leafScratch.buf = Buffer.alloc(most * 2);
  const buf = leafScratch.buf;
  buf[0] = 0x00;
  let size = 1 + entry.length;
  if (typeof entry === 'string') size = 1 + buf.write(entry, 1, 'utf8');
  else buf.set(entry, 1);
  return buf.subarray(0, size);
}

/** `SHA256(0x01 ‖ left ‖ right)`. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  nodeScratch[0] = 0x01;
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_BYTES);
  return hash('sha256', nodeScratch, 'buffer');
}

/** The largest power of two strictly smaller than `n` (n ≥ 2): where RFC 6962 splits a tree. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && 2 ** Math.round(Math.log2(n)) === n;
}

/** The tree head of a list of leaf hashes (convenience; `MerkleTree` for repeated queries). */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Buffer {
  return MerkleTree.fromLeafHashes(leafHashes).root();
}

/** A Merkle tree over fixed leaf hashes, holding all complete subtree hashes level by level. */
export class MerkleTree {
  /** `levels[k]` holds the hashes of the aligned subtrees of 2^k leaves, 32 bytes each, back to back. */
  private readonly levels: Buffer[];
  readonly size: number;

  private constructor(leaves: Buffer, size: number) {
    this.size = size;
    this.levels = [leaves];
    for (let width = size; width >= 2; width = Math.floor(width / 2)) {
      const below = this.levels.at(-1)!;
      const count = Math.floor(width / 2);
      const level = Buffer.allocUnsafe(count * HASH_BYTES);
      // Siblings sit side by side in the level below: one 64-byte copy per node, no views.
      nodeScratch[0] = 0x01;
      for (let j = 0; j < count; j++) {
        below.copy(nodeScratch, 1, 2 * j * HASH_BYTES, (2 * j + 2) * HASH_BYTES);
        hash('sha256', nodeScratch, 'buffer').copy(level, j * HASH_BYTES);
      }
      this.levels.push(level);
    }
  }

  /** Builds from leaf hashes: an array of 32-byte hashes, or one buffer of them back to back. */
  static fromLeafHashes(leafHashes: readonly Uint8Array[] | Buffer): MerkleTree {
    if (Buffer.isBuffer(leafHashes)) {
      if (leafHashes.length % HASH_BYTES !== 0)
        throw new RangeError('leaf hashes: length is not a multiple of 32');
      return new MerkleTree(leafHashes, leafHashes.length / HASH_BYTES);
    }
    const packed = Buffer.allocUnsafe(leafHashes.length * HASH_BYTES);
    leafHashes.forEach((h, i) => {
      if (h.length !== HASH_BYTES) throw new RangeError(`leaf hash ${i}: ${h.length} bytes, want 32`);
      packed.set(h, i * HASH_BYTES);
    });
    return new MerkleTree(packed, leafHashes.length);
  }

  /** The hash of leaf `index`. */
  leaf(index: number): Buffer {
    this.checkRange(index, this.size - 1);
    return Buffer.from(this.levels[0]!.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES));
  }

  /** The tree head of the first `size` leaves (default: all). */
  root(size: number = this.size): Buffer {
    this.checkRange(size, this.size);
    return size === 0 ? Buffer.from(EMPTY_ROOT) : this.subtree(0, size);
  }

  /** The audit path of leaf `index` in the tree of the first `size` leaves, deepest sibling first. */
  inclusionProof(index: number, size: number = this.size): Buffer[] {
    this.checkRange(size, this.size);
    if (index < 0 || index >= size)
      throw new RangeError(`inclusion proof: leaf ${index} is not in a tree of ${size}`);
    let start = 0;
    let end = size;
    const siblings: Buffer[] = [];
    while (end - start > 1) {
      const k = splitPoint(end - start);
      if (index < start + k) {
        siblings.push(this.subtree(start + k, end));
        end = start + k;
      } else {
        siblings.push(this.subtree(start, start + k));
        start += k;
      }
    }
    return siblings.reverse().map((h) => Buffer.from(h));
  }

  /** RFC 6962 consistency proof between the trees of the first `size1` and `size2` leaves. */
  consistencyProof(size1: number, size2: number = this.size): Buffer[] {
    this.checkRange(size2, this.size);
    if (size1 < 0 || size1 > size2)
      throw new RangeError(`consistency proof: ${size1} is not within 0..${size2}`);
    if (size1 === 0 || size1 === size2) return [];
    return this.subproof(size1, 0, size2, true).map((h) => Buffer.from(h));
  }

  private subproof(m: number, start: number, end: number, whole: boolean): Buffer[] {
    const n = end - start;
    if (m === n) return whole ? [] : [this.subtree(start, end)];
    const k = splitPoint(n);
    if (m <= k) return [...this.subproof(m, start, start + k, whole), this.subtree(start + k, end)];
    return [...this.subproof(m - k, start + k, end, false), this.subtree(start, start + k)];
  }

  /** MTH of leaves [start, end): a stored level when the range is an aligned power of two. */
  private subtree(start: number, end: number): Buffer {
    const n = end - start;
    if (isPowerOfTwo(n) && start % n === 0) {
      const level = Math.log2(n);
      const j = start / n;
      return this.levels[level]!.subarray(j * HASH_BYTES, (j + 1) * HASH_BYTES);
    }
    const k = splitPoint(n);
    return nodeHash(this.subtree(start, start + k), this.subtree(start + k, end));
  }

  private checkRange(value: number, max: number): void {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new RangeError(`merkle tree: ${value} is outside 0..${max}`);
    }
  }
}
