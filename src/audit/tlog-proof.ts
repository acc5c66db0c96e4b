/**
 * Inclusion proofs an auditor can keep, in the c2sp.org/tlog-proof@v1 text form: header, `extra`
 * (here: base64 of the entry's bytes), `index N`, one base64 hash per line, a blank line, then the
 * signed checkpoint. Verifying needs only this text and the public key. Pure.
 */
import type { KeyObject } from 'node:crypto';
import { verifyCheckpoint } from './checkpoint.js';
import { HASH_BYTES, leafHash } from './merkle.js';
import { verifyInclusion } from './proof.js';

const HEADER = 'c2sp.org/tlog-proof@v1';

export interface TlogProof {
  index: number;
  /** The entry's canonical JSON bytes (carried in the `extra` line). */
  entry: string;
  hashes: Buffer[];
  checkpoint: string;
}

export function formatTlogProof(proof: TlogProof): string {
  const lines = [
    HEADER,
    `extra ${Buffer.from(proof.entry, 'utf8').toString('base64')}`,
    `index ${proof.index}`,
  ];
  for (const h of proof.hashes) lines.push(h.toString('base64'));
  return `${lines.join('\n')}\n\n${proof.checkpoint}`;
}

/** Parses the text form; throws a TypeError naming what is malformed. */
export function parseTlogProof(text: string): TlogProof {
  const split = text.indexOf('\n\n');
  if (split < 0) throw new TypeError('tlog proof: no blank line before the checkpoint');
  const [header, ...lines] = text.slice(0, split).split('\n');
  if (header !== HEADER) throw new TypeError(`tlog proof: first line is not "${HEADER}"`);
  let entry = '';
  if (lines[0]?.startsWith('extra ')) entry = Buffer.from(lines.shift()!.slice(6), 'base64').toString('utf8');
  const indexLine = /^index (0|[1-9][0-9]*)$/.exec(lines.shift() ?? '');
  if (!indexLine) throw new TypeError('tlog proof: missing "index N" line');
  const hashes = lines.map((l, i) => {
    const h = Buffer.from(l, 'base64');
    if (h.length !== HASH_BYTES) throw new TypeError(`tlog proof: hash ${i} is not base64 of 32 bytes`);
    return h;
  });
  return { index: Number(indexLine[1]), entry, hashes, checkpoint: text.slice(split + 2) };
}

export type TlogProofVerdict =
  | { ok: true; index: number; size: number; entry: string; origin: string }
  | { ok: false; problem: string };

/** Checks the checkpoint signature, then that the entry is leaf `index` of the signed tree. */
export function verifyTlogProof(
  text: string,
  publicKey: KeyObject,
  expectedOrigin?: string,
): TlogProofVerdict {
  let proof: TlogProof;
  try {
    proof = parseTlogProof(text);
  } catch (error) {
    return { ok: false, problem: (error as Error).message };
  }
  const verdict = verifyCheckpoint(proof.checkpoint, publicKey, expectedOrigin);
  if (!verdict.ok) return { ok: false, problem: `checkpoint: ${verdict.problem}` };
  const { size, rootHash, origin } = verdict.checkpoint;
  if (!verifyInclusion(proof.index, size, leafHash(proof.entry), proof.hashes, rootHash)) {
    return {
      ok: false,
      problem: `entry ${proof.index} is not included in the tree of ${size} the checkpoint signs`,
    };
  }
  return { ok: true, index: proof.index, size, entry: proof.entry, origin };
}
