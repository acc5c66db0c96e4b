/**
 * Full verification of a log from its entries, its checkpoints and the public key alone: every
 * entry at its index with its leaf hash, the tree recomputed, every checkpoint signature, every
 * signed root, and consistency between successive checkpoints. Pure; the store and the export
 * reader feed it. The first finding names the first bad index.
 */
import { hash, type KeyObject } from 'node:crypto';
import { type ParsedCheckpoint, verifyCheckpoint } from './checkpoint.js';
import { claimedIndex } from './entry.js';
import { HASH_BYTES, leafHash, MerkleTree } from './merkle.js';
import { verifyConsistency } from './proof.js';

export interface EntryRecord {
  /** Where the store (or export) put the entry; undefined when position is the only index. */
  index?: number;
  /** The entry's bytes as text, or … */
  bytes?: string;
  /** … the leaf preimage `0x00 ‖ entry bytes` as read straight from the store (no text decoding). */
  preimage?: Buffer;
  /** The leaf hash stored next to the entry, when the source keeps one. */
  storedLeafHash?: Uint8Array;
}

export interface VerifyInput {
  entries: Iterable<EntryRecord>;
  /** Signed notes, oldest first. */
  checkpoints: string[];
  publicKey: KeyObject;
  /** Expected origin; by default the first checkpoint's. */
  origin?: string;
}

export interface Finding {
  /** The first entry index the finding puts in doubt. */
  index?: number;
  /** Position of the checkpoint in the list (0-based), for checkpoint findings. */
  checkpoint?: number;
  problem: string;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  checkpoints: number;
  origin?: string;
  rootHash: string;
  /** Size of the largest checkpoint that verified: entries below it are signed. */
  signedSize: number;
  /** Entries after the last good checkpoint, not covered by any signature yet. */
  unsignedEntries: number;
  /** Findings ordered by index; the first one is the first thing wrong. */
  findings: Finding[];
  firstBadIndex?: number;
}

/** Walks the entries, checking each, and packs their leaf hashes for the tree. */
function checkEntries(entries: Iterable<EntryRecord>, findings: Finding[]): Buffer {
  const chunks: Buffer[] = [];
  let chunk = Buffer.allocUnsafe(HASH_BYTES * 65536);
  let used = 0;
  let position = 0;
  for (const e of entries) {
    const leaf = e.preimage ? hash('sha256', e.preimage, 'buffer') : leafHash(e.bytes ?? '');
    const claimed = e.preimage ? claimedIndex(e.preimage) : claimedIndex(e.bytes ?? '');
    if (e.index !== undefined && e.index !== position) {
      const what =
        e.index > position
          ? `entries ${position}..${e.index - 1} are missing`
          : `entry is stored at ${e.index}`;
      findings.push({ index: position, problem: `${what}: the log has a gap or was reordered` });
    } else if (e.storedLeafHash && !leaf.equals(e.storedLeafHash)) {
      findings.push({
        index: position,
        problem: 'entry bytes do not match the leaf hash stored with them: the entry was edited',
      });
    } else if (claimed !== position) {
      findings.push({
        index: position,
        problem: `entry says it is index ${claimed}: entries were removed, reordered or edited`,
      });
    }
    if (used === chunk.length) {
      chunks.push(chunk);
      chunk = Buffer.allocUnsafe(chunk.length);
      used = 0;
    }
    leaf.copy(chunk, used);
    used += HASH_BYTES;
    position++;
  }
  chunks.push(chunk.subarray(0, used));
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

interface CheckState {
  tree: MerkleTree;
  origin?: string;
  /** The last checkpoint whose signature and root verified. */
  good?: ParsedCheckpoint;
  /** What the entry walk found, in index order. */
  entryFindings: Finding[];
}

/** What is wrong with one checkpoint, or undefined when it verifies (then it becomes `state.good`). */
function checkpointProblem(
  note: string,
  input: VerifyInput,
  state: CheckState,
): Omit<Finding, 'checkpoint'> | undefined {
  const verdict = verifyCheckpoint(note, input.publicKey, state.origin);
  const lastGood = state.good?.size ?? 0;
  if (!verdict.ok) return { index: lastGood, problem: verdict.problem };
  const cp = verdict.checkpoint;
  state.origin ??= cp.origin;
  if (cp.size < lastGood)
    return {
      index: cp.size,
      problem: `size ${cp.size} is smaller than the earlier checkpoint's ${lastGood}`,
    };
  if (cp.size > state.tree.size) {
    return {
      index: state.tree.size,
      problem: `signs ${cp.size} entries but the log has ${state.tree.size}: entries were truncated`,
    };
  }
  if (!state.tree.root(cp.size).equals(cp.rootHash)) {
    // An entry finding inside the interval is the precise culprit; otherwise the interval's start.
    const culprit = state.entryFindings.find(
      (f) => f.index !== undefined && f.index >= lastGood && f.index < cp.size,
    );
    return {
      index: culprit?.index ?? lastGood,
      problem: `the root signed for size ${cp.size} does not match entries ${lastGood}..${cp.size - 1}`,
    };
  }
  if (state.good) {
    const proof = state.tree.consistencyProof(state.good.size, cp.size);
    if (!verifyConsistency(state.good.size, cp.size, state.good.rootHash, cp.rootHash, proof)) {
      return { index: lastGood, problem: `not consistent with the checkpoint at size ${state.good.size}` };
    }
  }
  state.good = cp;
  return undefined;
}

/** Verifies the whole log; never throws for bad data, reports it. */
export function verifyLog(input: VerifyInput): VerifyReport {
  const findings: Finding[] = [];
  const tree = MerkleTree.fromLeafHashes(checkEntries(input.entries, findings));
  const state: CheckState = { tree, origin: input.origin, entryFindings: [...findings] };
  input.checkpoints.forEach((note, i) => {
    const found = checkpointProblem(note, input, state);
    if (found) findings.push({ ...found, checkpoint: i, problem: `checkpoint ${i}: ${found.problem}` });
  });
  if (input.checkpoints.length === 0 && tree.size > 0) {
    findings.push({ index: 0, problem: 'no checkpoint: nothing in the log is signed' });
  }
  findings.sort((a, b) => (a.index ?? Number.MAX_SAFE_INTEGER) - (b.index ?? Number.MAX_SAFE_INTEGER));
  const signedSize = state.good?.size ?? 0;
  return {
    ok: findings.length === 0,
    entries: tree.size,
    checkpoints: input.checkpoints.length,
    origin: state.origin,
    rootHash: tree.root().toString('hex'),
    signedSize,
    unsignedEntries: tree.size - signedSize,
    findings,
    firstBadIndex: findings.find((f) => f.index !== undefined)?.index,
  };
}
