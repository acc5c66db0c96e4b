/**
 * The audit log on the state store's SQLite connection: `record` appends an entry inside the
 * caller's transaction, `checkpoint` signs the tree head (extending the frontier stored with the
 * previous checkpoint, so signing costs O(new entries)), and reads serve `audit log`, `trace`,
 * proofs, export and verification. The rows are append-only (triggers); the entry bytes are the truth.
 */
import type { KeyObject } from 'node:crypto';
import { userInfo } from 'node:os';
import type Database from 'better-sqlite3';
import { IntegrityError, NotFoundError } from '../lib/index.js';
import type { SqliteStateStore } from '../state/index.js';
import { defaultOrigin, signCheckpoint } from './checkpoint.js';
import { type AuditEntry, type AuditEvent, buildEntry } from './entry.js';
import {
  appendLeaf,
  decodeFrontier,
  emptyFrontier,
  encodeFrontier,
  type Frontier,
  frontierRoot,
} from './frontier.js';
import { auditPrivateKeyPath, readAuditSigner } from './keys.js';
import { leafHash } from './merkle.js';
import { type AuditFilter, AuditReader, type Checkpoint } from './sqlite-audit-reader.js';

/** Defaults: sign at least every 1000 entries and, for `checkpointIfDue`, every 60 s with new entries. */
export const DEFAULT_CHECKPOINT_EVERY_ENTRIES = 1000;
export const DEFAULT_CHECKPOINT_EVERY_MS = 60_000;

export interface AuditLogOptions {
  /** The workspace's keys folder (audit.key, audit.pub). */
  keyDir: string;
  /** Checkpoint origin; default `cairn.local/audit/<key fingerprint>`. */
  origin?: string;
  now?: () => Date;
  /** Actor when an event names none; default the OS user. */
  actor?: string;
  checkpointEveryEntries?: number;
  checkpointEveryMs?: number;
}

interface LastCheckpoint {
  size: number;
  frontier: Buffer;
  root_hash: Buffer;
  created_at: string;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

export class SqliteAuditLog extends AuditReader {
  private readonly signer: { privateKey: KeyObject; publicKey: KeyObject } | undefined;
  private readonly insert: Database.Statement;
  private readonly nextIndex: Database.Statement;
  private readonly lastCheckpointRow: Database.Statement;
  readonly origin: string | undefined;
  private signedSizeHint: number | undefined;

  constructor(
    store: SqliteStateStore,
    private readonly opts: AuditLogOptions,
  ) {
    super(store.db, opts.keyDir);
    this.signer = readAuditSigner(opts.keyDir);
    this.origin = opts.origin ?? (this.signer ? defaultOrigin(this.signer.publicKey) : undefined);
    this.insert = this.db.prepare(
      `INSERT INTO audit_entries (idx, leaf_hash, entry, time, action, service, env, release, instance, image)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.nextIndex = this.db.prepare('SELECT coalesce(max(idx) + 1, 0) FROM audit_entries').pluck();
    this.lastCheckpointRow = this.db.prepare(
      'SELECT size, frontier, root_hash, created_at FROM audit_checkpoints ORDER BY id DESC LIMIT 1',
    );
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /** Runs `fn` in the caller's transaction, or in a new IMMEDIATE one (the index is read then written). */
  private inTransaction<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
  }

  record(event: AuditEvent): AuditEntry {
    return this.inTransaction(() => {
      const index = this.nextIndex.get() as number;
      const defaults = { actor: this.opts.actor ?? osUser(), time: this.now().toISOString() };
      const { entry, bytes } = buildEntry(event, index, defaults);
      const leaf = leafHash(bytes);
      const s = entry.subject;
      this.insert.run(
        index,
        leaf,
        bytes,
        entry.time,
        entry.action,
        s.service,
        s.env,
        s.release,
        s.instance,
        s.image,
      );
      const every = this.opts.checkpointEveryEntries ?? DEFAULT_CHECKPOINT_EVERY_ENTRIES;
      // The signed size is a hint kept in memory (another process may sign too): it only decides when to sign.
      this.signedSizeHint ??= this.lastSignedSize();
      if (this.signer && index + 1 - this.signedSizeHint >= every) this.autoCheckpoint();
      return { ...entry, leafHash: leaf.toString('hex') };
    });
  }

  /**
   * Signing on the append path must not abort the change being recorded: if the audit tables were
   * tampered with, the entry still lands (unsigned), the next append retries, and an explicit
   * `checkpoint()` or `cairn audit verify` reports the problem.
   */
  private autoCheckpoint(): void {
    try {
      this.signedSizeHint = this.checkpoint().size;
    } catch {
      this.signedSizeHint = undefined;
    }
  }

  private lastSignedSize(): number {
    return (this.lastCheckpointRow.get() as LastCheckpoint | undefined)?.size ?? 0;
  }

  /** The frontier of the whole log: the last checkpoint's, extended by the entries after it. */
  private currentFrontier(last: LastCheckpoint | undefined): Frontier {
    let frontier = this.lastFrontier(last);
    const leaves = this.db
      .prepare('SELECT idx, leaf_hash FROM audit_entries WHERE idx >= ? ORDER BY idx')
      .raw();
    for (const [idx, leaf] of leaves.iterate(frontier.size) as Iterable<[number, Buffer]>) {
      if (idx !== frontier.size) {
        throw new IntegrityError(`signing an audit checkpoint: entry ${frontier.size} is missing`, {
          hint: 'the audit tables were edited; run `cairn audit verify`',
        });
      }
      frontier = appendLeaf(frontier, leaf);
    }
    return frontier;
  }

  /** The frontier at the last checkpoint, checked against the root that checkpoint signed. */
  private lastFrontier(last: LastCheckpoint | undefined): Frontier {
    if (!last) return emptyFrontier();
    const frontier = decodeFrontier(last.size, last.frontier);
    if (!frontier || !frontierRoot(frontier).equals(last.root_hash)) {
      throw new IntegrityError(
        'signing a checkpoint: the state stored with the last checkpoint does not match its root',
        {
          hint: 'the audit tables were edited; run `cairn audit verify` to find where',
        },
      );
    }
    return frontier;
  }

  checkpoint(): Checkpoint {
    const signer = this.signer;
    if (!signer || !this.origin) {
      throw new NotFoundError(
        `signing an audit checkpoint: ${auditPrivateKeyPath(this.opts.keyDir)} does not exist`,
        {
          hint: 'checkpoints are signed where the workspace was created with `cairn init`',
        },
      );
    }
    return this.inTransaction(() => {
      const last = this.lastCheckpointRow.get() as LastCheckpoint | undefined;
      const frontier = this.currentFrontier(last);
      if (last && frontier.size === last.size) return this.latestCheckpoint()!;
      const rootHash = frontierRoot(frontier);
      const note = signCheckpoint(
        { origin: this.origin!, size: frontier.size, rootHash },
        signer.privateKey,
        signer.publicKey,
      );
      const createdAt = this.now().toISOString();
      this.db
        .prepare(
          'INSERT INTO audit_checkpoints (size, root_hash, frontier, note, created_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(frontier.size, rootHash, encodeFrontier(frontier), note, createdAt);
      return {
        origin: this.origin!,
        size: frontier.size,
        rootHash: rootHash.toString('hex'),
        note,
        createdAt,
      };
    });
  }

  /** Signs when N entries or T ms have passed since the last checkpoint (with new entries); for a timer. */
  checkpointIfDue(): Checkpoint | undefined {
    if (!this.signer) return undefined;
    const last = this.lastCheckpointRow.get() as LastCheckpoint | undefined;
    const size = this.size();
    const unsigned = size - (last?.size ?? 0);
    if (unsigned === 0) return undefined;
    const everyMs = this.opts.checkpointEveryMs ?? DEFAULT_CHECKPOINT_EVERY_MS;
    const age = last ? this.now().getTime() - Date.parse(last.created_at) : Number.POSITIVE_INFINITY;
    const every = this.opts.checkpointEveryEntries ?? DEFAULT_CHECKPOINT_EVERY_ENTRIES;
    return unsigned >= every || age >= everyMs ? this.checkpoint() : undefined;
  }

  /** On shutdown: signs the entries not yet covered by a checkpoint. Does not close the store. */
  close(): void {
    if (this.signer && this.size() > this.lastSignedSize()) this.checkpoint();
  }

  /** An inclusion proof for entry `index` against the latest checkpoint, signing one first if needed. */
  override prove(index: number) {
    const latest = this.latestCheckpoint();
    if (this.signer && index >= 0 && index < this.size() && (!latest || index >= latest.size))
      this.checkpoint();
    return super.prove(index);
  }
}

export type { AuditFilter, Checkpoint };
