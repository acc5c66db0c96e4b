/**
 * The audit log on the state store's SQLite connection: `record` appends an entry inside the
 * caller's transaction, `recordDurably` appends standalone events by group commit, checkpoints are
 * signed off the append path (see `CheckpointWriter`), and reads serve `audit log`, `trace`,
 * proofs, export and verification. The rows are append-only (triggers); the entry bytes are the truth.
 */
import { userInfo } from 'node:os';
import type Database from 'better-sqlite3';
import { NotFoundError, ValidationError } from '../lib/index.js';
import type { SqliteStateStore } from '../state/index.js';
import { AppendQueue } from './append-queue.js';
import { defaultOrigin } from './checkpoint.js';
import { CheckpointWriter } from './checkpoint-writer.js';
import { type AuditEntry, type AuditEvent, buildEntry } from './entry.js';
import { auditPrivateKeyPath, readAuditSigner } from './keys.js';
import { leafHashHex } from './merkle.js';
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

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

export class SqliteAuditLog extends AuditReader {
  private readonly writer: CheckpointWriter | undefined;
  private readonly insert: Database.Statement;
  private readonly nextIndex: Database.Statement;
  private readonly actor: string;
  private readonly checkpointEvery: number;
  readonly origin: string | undefined;
  private signedSizeHint: number | undefined;
  private signingScheduled = false;
  private queue: AppendQueue | undefined;
  private lastTime = { ms: Number.NaN, iso: '' };

  constructor(
    store: SqliteStateStore,
    private readonly opts: AuditLogOptions,
  ) {
    super(store.db, opts.keyDir);
    const keys = readAuditSigner(opts.keyDir);
    this.origin = opts.origin ?? (keys ? defaultOrigin(keys.publicKey) : undefined);
    if (keys && this.origin)
      this.writer = new CheckpointWriter(this.db, { ...keys, origin: this.origin }, () => this.now());
    this.actor = opts.actor ?? osUser();
    this.checkpointEvery = opts.checkpointEveryEntries ?? DEFAULT_CHECKPOINT_EVERY_ENTRIES;
    this.insert = this.db.prepare(
      `INSERT INTO audit_entries (idx, leaf_hash, entry, time, action, service, env, release, instance, image)
       VALUES (?, unhex(?), ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.nextIndex = this.db.prepare('SELECT coalesce(max(idx) + 1, 0) FROM audit_entries').pluck();
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /** Runs `fn` in the caller's transaction, or in a new IMMEDIATE one (the index is read then written). */
  private inTransaction<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
  }

  record(event: AuditEvent): AuditEntry {
    return this.inTransaction(() => this.append(event, this.nextIndex.get() as number));
  }

  /**
   * Group commit: queues the event and resolves once the transaction holding it (and every other
   * event queued in the same turn of the event loop) is committed, so one fsync covers the batch.
   * For events that change no state of their own; a state change and its entry use `record` in one
   * transaction instead.
   */
  recordDurably(event: AuditEvent): Promise<AuditEntry> {
    this.queue ??= new AppendQueue((events) => this.recordBatch(events));
    return this.queue.push(event);
  }

  /**
   * Appends each event in one IMMEDIATE transaction; a malformed event fails alone, not the batch.
   * Checkpoints the batch makes due are signed in the same transaction, so one fsync covers both
   * (signing after the turn, as `record` does, cost a second commit per batch).
   */
  private recordBatch(events: readonly AuditEvent[]): Array<AuditEntry | ValidationError> {
    return this.db
      .transaction(() => {
        // The write lock is held from here to the commit: the index read once stays ours.
        let index = this.nextIndex.get() as number;
        const entries = events.map((event) => {
          try {
            return this.append(event, index++);
          } catch (err) {
            index--;
            if (err instanceof ValidationError) return err;
            throw err;
          }
        });
        if (this.signingDue(index)) this.signDue();
        return entries;
      })
      .immediate();
  }

  /** Writes entry `index`, the next one: the caller holds the write transaction it read that in. */
  private append(event: AuditEvent, index: number): AuditEntry {
    const time = event.time === undefined ? this.isoNow() : event.time;
    const { entry, bytes } = buildEntry(event, index, { actor: this.actor, time });
    const leaf = leafHashHex(bytes);
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
    if (this.signingDue(index + 1)) this.scheduleSigning();
    return Object.assign(entry, { leafHash: leaf });
  }

  /** Whether a log of `size` entries has a checkpoint due (every N entries past the last one signed). */
  private signingDue(size: number): boolean {
    if (!this.writer) return false;
    // The signed size is a hint kept in memory (another process may sign too): it only decides when to sign.
    this.signedSizeHint ??= this.writer.last()?.size ?? 0;
    return size - this.signedSizeHint >= this.checkpointEvery;
  }

  /** `now()` as ISO 8601; appends within one millisecond share the string. */
  private isoNow(): string {
    const ms = this.now().getTime();
    if (ms !== this.lastTime.ms) this.lastTime = { ms, iso: new Date(ms).toISOString() };
    return this.lastTime.iso;
  }

  /**
   * Checkpoints every N entries are signed after the appending turn of the event loop, in their
   * own transaction: the hashing that extends the tree stays off the append path and out of the
   * caller's transaction, and the sizes signed are the same N, 2N, … as if signed inline.
   */
  private scheduleSigning(): void {
    if (this.signingScheduled) return;
    this.signingScheduled = true;
    setImmediate(() => {
      this.signingScheduled = false;
      // A batch of `recordDurably` may have signed them already, in its own transaction.
      if (this.db.open && this.signingDue(this.size())) this.signDue();
    });
  }

  /**
   * Signing must not fail the changes being recorded: if the audit tables were tampered with, the
   * entries stay (unsigned), the next append retries, and an explicit `checkpoint()` or
   * `cairn audit verify` reports the problem.
   */
  private signDue(): void {
    try {
      // Inside a transaction this is a savepoint: a failure takes back the signing, not the entries.
      this.db.transaction(() => this.writer?.sign(this.size(), this.checkpointEvery)).immediate();
      this.signedSizeHint = this.writer?.last()?.size;
    } catch {
      this.signedSizeHint = undefined;
    }
  }

  checkpoint(): Checkpoint {
    const writer = this.writer;
    if (!writer) {
      throw new NotFoundError(
        `signing an audit checkpoint: ${auditPrivateKeyPath(this.opts.keyDir)} does not exist`,
        {
          hint: 'checkpoints are signed where the workspace was created with `cairn init`',
        },
      );
    }
    return this.inTransaction(() => writer.sign(this.size()) ?? this.latestCheckpoint()!);
  }

  /** Signs when N entries or T ms have passed since the last checkpoint (with new entries); for a timer. */
  checkpointIfDue(): Checkpoint | undefined {
    if (!this.writer) return undefined;
    const last = this.writer.last();
    const size = this.size();
    const unsigned = size - (last?.size ?? 0);
    if (unsigned === 0) return undefined;
    const everyMs = this.opts.checkpointEveryMs ?? DEFAULT_CHECKPOINT_EVERY_MS;
    const age = last ? this.now().getTime() - Date.parse(last.created_at) : Number.POSITIVE_INFINITY;
    return unsigned >= this.checkpointEvery || age >= everyMs ? this.checkpoint() : undefined;
  }

  /** On shutdown: signs what is due every N entries, then the rest. Does not close the store. */
  close(): void {
    if (!this.writer) return;
    this.inTransaction(() => this.writer?.sign(this.size(), this.checkpointEvery));
    if (this.size() > (this.writer.last()?.size ?? 0)) this.checkpoint();
  }

  /** An inclusion proof for entry `index` against the latest checkpoint, signing one first if needed. */
  override prove(index: number) {
    const latest = this.latestCheckpoint();
    if (this.writer && index >= 0 && index < this.size() && (!latest || index >= latest.size))
      this.checkpoint();
    return super.prove(index);
  }
}

export type { AuditFilter, Checkpoint };
