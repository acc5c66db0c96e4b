/**
 * Signs checkpoints of the audit log in state.db: extends the frontier stored with the previous
 * checkpoint by the leaves after it (O(new entries)), signs the tree head, and stores the note with
 * the new frontier. Keeps the last frontier it signed or checked in memory, so the next signing
 * neither decodes nor re-hashes it — as long as the stored row still holds exactly that.
 */
import type { KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import { IntegrityError } from '../lib/index.js';
import { signCheckpoint } from './checkpoint.js';
import {
  decodeFrontier,
  emptyFrontier,
  encodeFrontier,
  extendFrontier,
  type Frontier,
  frontierRoot,
} from './frontier.js';
import { HASH_BYTES } from './merkle.js';
import type { Checkpoint } from './sqlite-audit-reader.js';

/** Leaves read per query when extending the frontier (a row per leaf costs more than hashing it). */
const LEAF_PAGE_ROWS = 65_536;

export interface LastCheckpoint {
  size: number;
  frontier: Buffer;
  root_hash: Buffer;
  created_at: string;
}

export interface CheckpointSigner {
  privateKey: KeyObject;
  publicKey: KeyObject;
  origin: string;
}

interface SignedFrontier {
  size: number;
  root: Buffer;
  bytes: Buffer;
  frontier: Frontier;
}

export class CheckpointWriter {
  private readonly lastRow: Database.Statement;
  private readonly leafPage: Database.Statement;
  private readonly insert: Database.Statement;
  private signed: SignedFrontier | undefined;

  constructor(
    db: Database.Database,
    private readonly signer: CheckpointSigner,
    private readonly now: () => Date,
  ) {
    this.lastRow = db.prepare(
      'SELECT size, frontier, root_hash, created_at FROM audit_checkpoints ORDER BY id DESC LIMIT 1',
    );
    this.leafPage = db
      .prepare(
        `SELECT count(*), min(idx), unhex(group_concat(hex(leaf_hash), '' ORDER BY idx))
         FROM audit_entries WHERE idx >= ? AND idx < ?`,
      )
      .raw();
    this.insert = db.prepare(
      'INSERT INTO audit_checkpoints (size, root_hash, frontier, note, created_at) VALUES (?, ?, ?, ?, ?)',
    );
  }

  last(): LastCheckpoint | undefined {
    return this.lastRow.get() as LastCheckpoint | undefined;
  }

  /**
   * Signs the log of `size` entries; with `every`, only at each `every` entries past the last
   * checkpoint (the sizes signing inside each append would have produced). Returns the last
   * checkpoint written, undefined when none was due. The caller holds a write transaction.
   */
  sign(size: number, every?: number): Checkpoint | undefined {
    const last = this.last();
    let frontier = this.lastFrontier(last);
    const targets = every ? steps(frontier.size, size, every) : !last || size > last.size ? [size] : [];
    let written: Checkpoint | undefined;
    for (const target of targets) {
      frontier = this.extend(frontier, target);
      written = this.write(frontier);
    }
    return written;
  }

  /** The frontier extended by the leaves up to `upTo` (exclusive), which must all be there. */
  private extend(frontier: Frontier, upTo: number): Frontier {
    let extended = frontier;
    while (extended.size < upTo) {
      const from = extended.size;
      const end = Math.min(from + LEAF_PAGE_ROWS, upTo);
      const [count, first, leaves] = this.leafPage.get(from, end) as [number, number | null, Buffer | null];
      // Primary keys are distinct integers: `end - from` of them in [from, end) are all of them.
      if (count !== end - from || first !== from || leaves?.length !== count * HASH_BYTES) {
        throw new IntegrityError(`signing an audit checkpoint: entry ${from} or a later one is missing`, {
          hint: 'the audit tables were edited; run `cairn audit verify`',
        });
      }
      extended = extendFrontier(extended, leaves);
    }
    return extended;
  }

  /** The frontier at the last checkpoint, checked against the root that checkpoint signed. */
  private lastFrontier(last: LastCheckpoint | undefined): Frontier {
    if (!last) return emptyFrontier();
    const known = this.signed;
    if (known?.size === last.size && known.root.equals(last.root_hash) && known.bytes.equals(last.frontier))
      return known.frontier;
    const frontier = decodeFrontier(last.size, last.frontier);
    const root = frontier && frontierRoot(frontier);
    if (!frontier || !root?.equals(last.root_hash)) {
      throw new IntegrityError(
        'signing a checkpoint: the state stored with the last checkpoint does not match its root',
        { hint: 'the audit tables were edited; run `cairn audit verify` to find where' },
      );
    }
    this.signed = { size: last.size, root, bytes: Buffer.from(last.frontier), frontier };
    return frontier;
  }

  private write(frontier: Frontier): Checkpoint {
    const { origin, privateKey, publicKey } = this.signer;
    const rootHash = frontierRoot(frontier);
    const note = signCheckpoint({ origin, size: frontier.size, rootHash }, privateKey, publicKey);
    const createdAt = this.now().toISOString();
    const bytes = encodeFrontier(frontier);
    this.insert.run(frontier.size, rootHash, bytes, note, createdAt);
    this.signed = { size: frontier.size, root: rootHash, bytes, frontier };
    return { origin, size: frontier.size, rootHash: rootHash.toString('hex'), note, createdAt };
  }
}

/** `from + every`, `from + 2·every`, … up to `size`. */
function steps(from: number, size: number, every: number): number[] {
  const out: number[] = [];
  for (let at = from + every; at <= size; at += every) out.push(at);
  return out;
}
