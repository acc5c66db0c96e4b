/** `StateStore` on SQLite (better-sqlite3): WAL, foreign keys, migrations, one writer at a time. */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { ConflictError, diskFullError } from '../../lib/index.js';
import type { StateStore, StateWriter } from '../state-store.js';
import type {
  AttestationRecord,
  DeploymentFilter,
  DeploymentRecord,
  EventRecord,
  InstanceFilter,
  InstanceRecord,
  NewEvent,
  ReleaseRecord,
  ServingRecord,
  TargetRecord,
} from '../types.js';
import { corruptionError, isCorruption, rememberOpened } from './corruption.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import * as rows from './rows.js';

export interface SqliteStateStoreConfig {
  /** Path of state.db, or ":memory:". */
  path: string;
  readonly?: boolean;
  /** Extra migrations of other capabilities (e.g. the audit log), applied after the core ones. */
  migrations?: Migration[];
  busyTimeoutMs?: number;
  /**
   * Run SQLite's `quick_check` at open and refuse a damaged file (`cairn up`, `cairn audit verify`).
   * It reads every page: ~40-100 ms for a 14 MB state.db, so ordinary commands skip it and meet
   * damage as the query that reads it (reported the same way).
   */
  quickCheck?: boolean;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** Instance lists kept at once (one per filter asked for); more: all are read again. */
const INSTANCE_LIST_CACHE_ENTRIES = 256;

export function createSqliteStateStore(config: SqliteStateStoreConfig): SqliteStateStore {
  return new SqliteStateStore(config);
}

export class SqliteStateStore implements StateStore, StateWriter {
  readonly kind = 'sqlite';
  /** The connection, for capabilities that keep their own tables in state.db (audit). */
  readonly db: Database.Database;

  private readonly path: string;
  /**
   * Each query compiled once: the control plane lists its instances four times a second and reads
   * one after each health probe, and compiling the SQL again each time cost more than running it.
   */
  private readonly statements = new Map<string, Database.Statement>();
  /**
   * Instance lists by filter, as last read. Supervision and the drift loop list the live instances
   * several times a second and they rarely change (at 128 instances the query and the JSON parse
   * of every row were a sixth of the idle control plane), so a list is kept until an instance is
   * written: by this connection (`putInstance`), or by another one (SQLite's `data_version`
   * changes). The records in it are frozen: every caller gets the same objects.
   */
  private readonly instanceLists = new Map<string, readonly InstanceRecord[]>();
  private instanceListsVersion: unknown;

  constructor(config: SqliteStateStoreConfig) {
    this.path = config.path;
    this.db = new (sqlite())(config.path, { readonly: config.readonly ?? false });
    try {
      this.db.pragma(`busy_timeout = ${config.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
      if (config.quickCheck) quickCheck(this.db, config.path);
      if (!config.readonly) {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = FULL');
        migrate(this.db, [...MIGRATIONS, ...(config.migrations ?? [])]);
      }
      this.db.pragma('foreign_keys = ON');
    } catch (error) {
      this.db.close();
      if (isCorruption(error)) throw corruptionError(config.path, (error as Error).message, error);
      throw error;
    }
    rememberOpened(config.path);
  }

  private statement(sql: string): Database.Statement {
    let compiled = this.statements.get(sql);
    if (!compiled) {
      compiled = this.db.prepare(sql);
      this.statements.set(sql, compiled);
    }
    return compiled;
  }

  /** Runs `fn` in one write transaction; a full disk comes out as a DiskFullError naming state.db. */
  transaction<T>(fn: (tx: StateWriter) => T): T {
    try {
      return this.db.transaction(() => fn(this)).immediate();
    } catch (error) {
      throw diskFullError(error, 'saving the state', this.path) ?? error;
    }
  }

  close(): void {
    this.db.close();
  }

  getRelease(id: string): ReleaseRecord | undefined {
    const row = this.statement('SELECT * FROM releases WHERE id = ?').get(id);
    return row ? rows.toRelease(row) : undefined;
  }

  listReleases(service?: string): ReleaseRecord[] {
    const sql = service
      ? 'SELECT * FROM releases WHERE service = ? ORDER BY created_at, id'
      : 'SELECT * FROM releases ORDER BY created_at, id';
    return (service ? this.statement(sql).all(service) : this.statement(sql).all()).map(rows.toRelease);
  }

  putRelease(release: ReleaseRecord): void {
    const existing = this.getRelease(release.id);
    if (existing) {
      if (existing.imageDigest !== release.imageDigest || existing.configDigest !== release.configDigest) {
        throw new ConflictError(`writing release ${release.id}: a different release already has this id`);
      }
      return;
    }
    this.statement(rows.INSERT_RELEASE).run(rows.fromRelease(release));
  }

  listAttestations(releaseId: string): AttestationRecord[] {
    return this.db
      .prepare('SELECT * FROM attestations WHERE release_id = ? ORDER BY created_at, kind')
      .all(releaseId)
      .map(rows.toAttestation);
  }

  addAttestation(a: AttestationRecord): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO attestations (release_id, kind, digest, media_type, created_at)
         VALUES (@releaseId, @kind, @digest, @mediaType, @createdAt)`,
      )
      .run(a);
  }

  getDeployment(id: string): DeploymentRecord | undefined {
    const row = this.statement('SELECT * FROM deployments WHERE id = ?').get(id);
    return row ? rows.toDeployment(row) : undefined;
  }

  listDeployments(filter: DeploymentFilter = {}): DeploymentRecord[] {
    const where: string[] = [];
    if (filter.env) where.push('env = @env');
    if (filter.service) where.push('service = @service');
    if (filter.active) where.push(`phase IN ('pending', 'progressing', 'paused')`);
    // In SQL: the rollout controller asks five times a second, and parsing every finished
    // rollout's state in JavaScript to drop it grew with the workspace's whole history.
    if (filter.unfinished) where.push(`json_extract(state_json, '$.stage') IS NOT 'done'`);
    if (filter.finishedSince) where.push('finished_at >= @finishedSince');
    const sql = `SELECT * FROM deployments ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
    return this.statement(sql).all(filter).map(rows.toDeployment);
  }

  putDeployment(d: DeploymentRecord): void {
    this.statement(rows.UPSERT_DEPLOYMENT).run(rows.fromDeployment(d));
  }

  getInstance(id: string): InstanceRecord | undefined {
    const row = this.statement('SELECT * FROM instances WHERE id = ?').get(id);
    return row ? rows.toInstance(row) : undefined;
  }

  listInstances(filter: InstanceFilter = {}): InstanceRecord[] {
    // Inside a transaction the list may hold writes that a rollback undoes: never kept.
    if (this.db.inTransaction) return this.queryInstances(filter);
    const version = this.statement('PRAGMA data_version').pluck().get();
    if (version !== this.instanceListsVersion) {
      this.instanceLists.clear();
      this.instanceListsVersion = version;
    }
    const key = `${filter.env ?? ''}\0${filter.service ?? ''}\0${filter.releaseId ?? ''}\0${filter.live === true}`;
    let list = this.instanceLists.get(key);
    if (!list) {
      list = this.queryInstances(filter).map((i) => Object.freeze(i));
      if (this.instanceLists.size >= INSTANCE_LIST_CACHE_ENTRIES) this.instanceLists.clear();
      this.instanceLists.set(key, list);
    }
    return [...list];
  }

  private queryInstances(filter: InstanceFilter): InstanceRecord[] {
    const where: string[] = [];
    if (filter.env) where.push('env = @env');
    if (filter.service) where.push('service = @service');
    if (filter.releaseId) where.push('release_id = @releaseId');
    if (filter.live) where.push(`state NOT IN ('stopped', 'failed')`);
    const sql = `SELECT * FROM instances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
    const params = { env: filter.env, service: filter.service, releaseId: filter.releaseId };
    return this.statement(sql).all(params).map(rows.toInstance);
  }

  putInstance(i: InstanceRecord): void {
    this.instanceLists.clear();
    this.statement(rows.UPSERT_INSTANCE).run(rows.fromInstance(i));
  }

  getTarget(env: string, service: string): TargetRecord | undefined {
    const row = this.statement('SELECT * FROM targets WHERE env = ? AND service = ?').get(env, service);
    return row ? rows.toTarget(row) : undefined;
  }

  listTargets(env?: string): TargetRecord[] {
    const stmt = env
      ? this.statement('SELECT * FROM targets WHERE env = ? ORDER BY env, service').all(env)
      : this.statement('SELECT * FROM targets ORDER BY env, service').all();
    return stmt.map(rows.toTarget);
  }

  setTarget(t: TargetRecord): void {
    this.db
      .prepare(
        `INSERT INTO targets (env, service, release_id, previous_release_id, updated_at)
         VALUES (@env, @service, @releaseId, @previousReleaseId, @updatedAt)
         ON CONFLICT (env, service) DO UPDATE SET release_id = excluded.release_id,
           previous_release_id = excluded.previous_release_id, updated_at = excluded.updated_at`,
      )
      .run({ ...t, previousReleaseId: t.previousReleaseId ?? null });
  }

  listEvents(
    filter: { afterSeq?: number; env?: string; service?: string; limit?: number } = {},
  ): EventRecord[] {
    const where = ['seq > @afterSeq'];
    if (filter.env) where.push('env = @env');
    if (filter.service) where.push('service = @service');
    const sql = `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT @limit`;
    return this.db
      .prepare(sql)
      .all({
        afterSeq: filter.afterSeq ?? 0,
        env: filter.env,
        service: filter.service,
        limit: filter.limit ?? -1,
      })
      .map(rows.toEvent);
  }

  appendEvent(e: NewEvent): EventRecord {
    const time = e.time ?? new Date().toISOString();
    const info = this.db
      .prepare(
        `INSERT INTO events (time, kind, env, service, subject, detail_json)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(time, e.kind, e.env ?? null, e.service ?? null, e.subject ?? null, JSON.stringify(e.detail ?? {}));
    return { ...e, seq: Number(info.lastInsertRowid), time, detail: e.detail ?? {} };
  }

  getServing(env: string, service: string): ServingRecord | undefined {
    const row = this.statement('SELECT * FROM serving WHERE env = ? AND service = ?').get(env, service);
    return row ? rows.toServing(row) : undefined;
  }

  listServing(env?: string): ServingRecord[] {
    const found = env
      ? this.statement('SELECT * FROM serving WHERE env = ? ORDER BY service').all(env)
      : this.statement('SELECT * FROM serving ORDER BY env, service').all();
    return found.map(rows.toServing);
  }

  setServing(s: ServingRecord): void {
    this.db
      .prepare(
        `INSERT INTO serving (env, service, replicas_json, weights_json, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (env, service) DO UPDATE SET replicas_json = excluded.replicas_json,
           weights_json = excluded.weights_json, updated_at = excluded.updated_at`,
      )
      .run(s.env, s.service, JSON.stringify(s.replicas), JSON.stringify(s.weights), s.updatedAt);
  }
}

/**
 * The native SQLite binding, loaded when a store is first opened rather than when this module is:
 * CLI verbs that only talk to the API (status, ps, deploy) never open one and start faster.
 */
function sqlite(): typeof Database {
  return createRequire(import.meta.url)('better-sqlite3') as typeof Database;
}

function migrate(db: Database.Database, migrations: Migration[]): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const pending = migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  if (pending.length === 0) return;
  db.transaction(() => {
    for (const m of pending) db.exec(m.sql);
    db.pragma(`user_version = ${pending.at(-1)!.version}`);
  }).immediate();
}

/** Refuses a damaged database: SQLite's quick_check (structure of every page, not index contents). */
function quickCheck(db: Database.Database, path: string): void {
  const rows = db.pragma('quick_check(3)') as Array<{ quick_check: string }>;
  const verdict = rows.map((r) => r.quick_check).join('; ');
  if (verdict !== 'ok') throw corruptionError(path, verdict.replace(/\s+/g, ' ').slice(0, 300));
}
