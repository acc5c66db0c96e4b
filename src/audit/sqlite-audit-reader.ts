/**
 * Reading the audit tables: filtered entry lists, checkpoints, inclusion proofs, the export file
 * and full verification. Nothing here writes; `SqliteAuditLog` adds recording and signing.
 */
import type { KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import { NotFoundError, ValidationError } from '../lib/index.js';
import { parseCheckpoint } from './checkpoint.js';
import { type AuditEntry, parseEntry } from './entry.js';
import { formatExportHeader } from './export-format.js';
import { decodeFrontier, frontierRoot } from './frontier.js';
import { auditPublicKeyPath, readAuditPublicKey } from './keys.js';
import { HASH_BYTES, MerkleTree } from './merkle.js';
import { formatTlogProof } from './tlog-proof.js';
import { type EntryRecord, type Finding, type VerifyReport, verifyLog } from './verify.js';

export interface Checkpoint {
  origin: string;
  size: number;
  /** Hex of the signed tree head. */
  rootHash: string;
  /** The signed note, as stored and exported. */
  note: string;
  createdAt: string;
}

export interface AuditFilter {
  service?: string;
  env?: string;
  /** ISO-8601 time; entries at or after it. */
  since?: string;
  /** Entries whose subject names any of these (OR), for `cairn trace`. */
  touching?: { release?: string; instance?: string; image?: string };
  limit?: number;
}

export interface InclusionProof {
  index: number;
  entry: AuditEntry;
  /** The entry's canonical bytes (what the leaf hash covers). */
  bytes: string;
  /** Audit path, deepest sibling first, hex. */
  hashes: string[];
  checkpoint: Checkpoint;
  /** The proof as a c2sp.org/tlog-proof@v1 text an auditor can keep. */
  text: string;
}

export interface ConsistencyProof {
  size1: number;
  size2: number;
  /** Hex tree head at size1, recomputed from the entries (compare it with the checkpoint you hold). */
  root1: string;
  /** Hex hashes, as RFC 6962 §2.1.2 orders them. */
  hashes: string[];
  /** The checkpoint at size2. */
  checkpoint: Checkpoint;
}

/** The immutability triggers of the audit tables; verification reports any that are gone. */
const TRIGGERS = [
  'audit_entries_no_update',
  'audit_entries_no_delete',
  'audit_checkpoints_no_update',
  'audit_checkpoints_no_delete',
];
const EXPORT_BATCH_LINES = 4096;
const VERIFY_PAGE_ROWS = 8192;

export class AuditReader {
  private sizeQuery: Database.Statement | undefined;

  constructor(
    readonly db: Database.Database,
    protected readonly keyDir: string,
  ) {}

  /** Number of entries (the next index). */
  size(): number {
    this.sizeQuery ??= this.db.prepare('SELECT coalesce(max(idx) + 1, 0) FROM audit_entries').pluck();
    return this.sizeQuery.get() as number;
  }

  list(filter: AuditFilter = {}): AuditEntry[] {
    const where: string[] = [];
    if (filter.service) where.push('service = @service');
    if (filter.env) where.push('env = @env');
    if (filter.since) where.push('time >= @since');
    const touching = Object.entries(filter.touching ?? {}).filter(([, v]) => v);
    if (touching.length) where.push(`(${touching.map(([k]) => `${k} = @${k}`).join(' OR ')})`);
    const sql = `SELECT entry, leaf_hash FROM audit_entries ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY idx LIMIT @limit`;
    const params: Record<string, string | number> = { limit: filter.limit ?? -1 };
    for (const key of ['service', 'env'] as const) if (filter[key]) params[key] = filter[key];
    // Stored times are toISOString() (milliseconds, Z); compare in that same form.
    if (filter.since) params.since = new Date(filter.since).toISOString();
    for (const [key, value] of touching) params[key] = value as string;
    const rows = this.db.prepare(sql).raw().all(params) as Array<[string, Buffer]>;
    return rows.map(([bytes, leaf]) => parseEntry(bytes, leaf.toString('hex')));
  }

  checkpoints(): Checkpoint[] {
    const rows = this.db
      .prepare('SELECT note, created_at FROM audit_checkpoints ORDER BY id')
      .raw()
      .all() as Array<[string, string]>;
    return rows.map(([note, createdAt]) => toCheckpoint(note, createdAt));
  }

  latestCheckpoint(): Checkpoint | undefined {
    const row = this.db
      .prepare('SELECT note, created_at FROM audit_checkpoints ORDER BY id DESC LIMIT 1')
      .raw()
      .get() as [string, string] | undefined;
    return row ? toCheckpoint(row[0], row[1]) : undefined;
  }

  /** The leaf hashes of the first `size` entries, back to back. */
  private leafHashes(size: number): Buffer {
    const out = Buffer.allocUnsafe(size * HASH_BYTES);
    let i = 0;
    const rows = this.db.prepare('SELECT leaf_hash FROM audit_entries WHERE idx < ? ORDER BY idx').pluck();
    for (const leaf of rows.iterate(size) as Iterable<Buffer>) (leaf as Buffer).copy(out, HASH_BYTES * i++);
    if (i !== size)
      throw new NotFoundError(`proving: the log has ${i} of the ${size} entries the checkpoint signs`, {
        hint: 'run `cairn audit verify`',
      });
    return out;
  }

  prove(index: number): InclusionProof {
    const size = this.size();
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new NotFoundError(`proving entry ${index}: the log has ${size} entries`, {
        hint: size
          ? `entries are numbered 0..${size - 1}; \`cairn audit log\` lists them`
          : 'nothing was recorded yet',
      });
    }
    const checkpoint = this.latestCheckpoint();
    if (!checkpoint || index >= checkpoint.size) {
      throw new NotFoundError(
        `proving entry ${index}: it is not covered by a checkpoint (signed size ${checkpoint?.size ?? 0})`,
        {
          hint: `entries are 0..${this.size() - 1}; a new checkpoint is signed where the audit key is`,
        },
      );
    }
    const tree = MerkleTree.fromLeafHashes(this.leafHashes(checkpoint.size));
    const [bytes] = this.db.prepare('SELECT entry FROM audit_entries WHERE idx = ?').raw().get(index) as [
      string,
    ];
    const hashes = tree.inclusionProof(index, checkpoint.size);
    const text = formatTlogProof({ index, entry: bytes, hashes, checkpoint: checkpoint.note });
    const entry = parseEntry(bytes, tree.leaf(index).toString('hex'));
    return { index, entry, bytes, hashes: hashes.map((h) => h.toString('hex')), checkpoint, text };
  }

  /**
   * A consistency proof from the tree of `size1` entries to the latest checkpoint: what a
   * monitor holding an older checkpoint checks with `verifyConsistency` to see the log only grew.
   */
  proveConsistency(size1: number): ConsistencyProof {
    const checkpoint = this.latestCheckpoint();
    if (!checkpoint || !Number.isSafeInteger(size1) || size1 < 0 || size1 > checkpoint.size) {
      throw new NotFoundError(
        `proving consistency from size ${size1}: the latest checkpoint signs ${checkpoint?.size ?? 0}`,
      );
    }
    const tree = MerkleTree.fromLeafHashes(this.leafHashes(checkpoint.size));
    const hashes = tree.consistencyProof(size1, checkpoint.size).map((h) => h.toString('hex'));
    return { size1, size2: checkpoint.size, root1: tree.root(size1).toString('hex'), hashes, checkpoint };
  }

  /** The default public key: the workspace's audit.pub. */
  publicKey(): KeyObject {
    return readAuditPublicKey(auditPublicKeyPath(this.keyDir));
  }

  verify(publicKey: KeyObject = this.publicKey()): VerifyReport {
    // The leaf preimage comes out of SQLite as bytes: no UTF-8 decoding for a million entries.
    // Read in pages with .all(): stepping a cursor row by row costs a native call per entry.
    const page = this.db
      .prepare(
        "SELECT idx, X'00' || CAST(entry AS BLOB), leaf_hash FROM audit_entries WHERE idx > ? ORDER BY idx LIMIT ?",
      )
      .raw();
    const entries = (function* (): Generator<EntryRecord> {
      // One record object, refilled per row: verifyLog reads each once and keeps nothing.
      const record: EntryRecord = { index: 0, preimage: undefined, storedLeafHash: undefined };
      for (let after = -1; ; ) {
        const rows = page.all(after, VERIFY_PAGE_ROWS) as Array<[number, Buffer, Buffer]>;
        for (const row of rows) {
          [record.index, record.preimage, record.storedLeafHash] = row;
          yield record;
        }
        if (rows.length < VERIFY_PAGE_ROWS) return;
        after = rows.at(-1)![0];
      }
    })();
    const checkpoints = this.db
      .prepare('SELECT note FROM audit_checkpoints ORDER BY id')
      .pluck()
      .all() as string[];
    const report = verifyLog({ entries, checkpoints, publicKey });
    const present = new Set(
      this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").pluck().all() as string[],
    );
    const missing = TRIGGERS.filter((t) => !present.has(t));
    if (missing.length) {
      report.findings.push({
        problem: `append-only triggers were removed (${missing.join(', ')}): the tables can be rewritten`,
      });
    }
    report.findings.push(...this.storedFrontierFindings());
    report.ok = report.findings.length === 0;
    return report;
  }

  /** The frontier stored with each checkpoint must fold to the root it signed, or the next signing fails. */
  private storedFrontierFindings(): Finding[] {
    const rows = this.db
      .prepare('SELECT size, frontier, note FROM audit_checkpoints ORDER BY id')
      .raw()
      .all() as Array<[number, Buffer, string]>;
    const findings: Finding[] = [];
    rows.forEach(([size, bytes, note], i) => {
      const frontier = decodeFrontier(size, bytes);
      let signed: Buffer | undefined;
      try {
        signed = parseCheckpoint(note).rootHash;
      } catch {
        return; // verifyLog reports an unreadable note
      }
      if (!frontier || !frontierRoot(frontier).equals(signed)) {
        findings.push({
          checkpoint: i,
          problem: `checkpoint ${i}: the subtree hashes stored with it do not match its root`,
        });
      }
    });
    return findings;
  }

  /** Writes the export file through `write`, in batches of lines. */
  exportTo(
    write: (text: string) => void,
    publicKey: KeyObject = this.publicKey(),
    now: Date = new Date(),
  ): void {
    const checkpoints = this.checkpoints();
    const entries = this.db.prepare('SELECT count(*) FROM audit_entries').pluck().get() as number;
    const publicPem = String(publicKey.export({ format: 'pem', type: 'spki' }));
    const header = {
      origin: checkpoints[0]?.origin,
      publicKey: publicPem,
      entries,
      checkpoints: checkpoints.length,
    };
    let batch: string[] = [formatExportHeader({ ...header, exportedAt: now.toISOString() })];
    for (const c of checkpoints) batch.push(JSON.stringify(c.note));
    const rows = this.db.prepare('SELECT entry FROM audit_entries ORDER BY idx').pluck();
    for (const bytes of rows.iterate() as Iterable<string>) {
      if (bytes.includes('\n'))
        throw new ValidationError('exporting the audit log: an entry holds a raw newline', []);
      batch.push(bytes);
      if (batch.length >= EXPORT_BATCH_LINES) {
        write(`${batch.join('\n')}\n`);
        batch = [];
      }
    }
    if (batch.length) write(`${batch.join('\n')}\n`);
  }
}

/** A stored checkpoint; one whose note no longer parses is listed with size -1 (verification says why). */
function toCheckpoint(note: string, createdAt: string): Checkpoint {
  try {
    const parsed = parseCheckpoint(note);
    return {
      origin: parsed.origin,
      size: parsed.size,
      rootHash: parsed.rootHash.toString('hex'),
      note,
      createdAt,
    };
  } catch {
    return { origin: '', size: -1, rootHash: '', note, createdAt };
  }
}
