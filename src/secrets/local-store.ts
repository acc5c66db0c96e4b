/**
 * The local secret store: `.cairn/secrets.db` (SQLite, mode 0600), one row per version of each
 * secret, sealed with AES-256-GCM under the store key (see secret-box.ts), the key id recorded per
 * row. Versions are kept until the secret is removed, so a rollback gets back the value its release
 * pinned. Values are decrypted one at a time, only when asked for.
 */
import { chmodSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ConflictError, NotFoundError } from '../lib/index.js';
import { openSecret, sealSecret, storeKeyId } from './secret-box.js';
import { loadOrCreateStoreKey, readStoreKey } from './store-key.js';
import type { SecretResolver, SecretVersion } from './types.js';

/** The store's file name in the workspace (`.cairn/secrets.db`). */
export const SECRETS_DB_FILE = 'secrets.db';
/** A value larger than this is not a secret but a file; it belongs in the image or a volume. */
export const MAX_SECRET_BYTES = 64 * 1024;
const VERSION = /^v([1-9][0-9]*)$/;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS secret_versions (
  name TEXT NOT NULL, version INTEGER NOT NULL, key_id TEXT NOT NULL,
  nonce BLOB NOT NULL, sealed BLOB NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
  PRIMARY KEY (name, version));`;

/** One secret as `cairn secret list` shows it: never its value. */
export interface SecretSummary {
  name: string;
  version: string;
  versions: number;
  createdAt: string;
  updatedAt: string;
  keyId: string;
}

/** What a write stored: the new version and the key it was sealed with (never the value). */
export interface Written {
  name: string;
  version: string;
  keyId: string;
}

export interface LocalStoreOptions {
  dbFile: string;
  keyFile: string;
  /** Create the database and key when missing (writers); readers find "no secrets" instead. */
  create?: boolean;
}

interface Row {
  name: string;
  version: number;
  key_id: string;
  nonce: Buffer;
  sealed: Buffer;
}

export class LocalSecretStore implements SecretResolver {
  readonly kind = 'local';
  private key: Buffer | undefined;
  private connection: Database.Database | undefined;

  private constructor(private readonly options: LocalStoreOptions) {}

  /**
   * Opens the store. Without `create`, a workspace with no store reads as empty until one is made
   * (the control plane keeps this object while `cairn secret set` creates the file).
   */
  static open(options: LocalStoreOptions): LocalSecretStore {
    const store = new LocalSecretStore(options);
    if (options.create) {
      const db = store.connect();
      // A new key only for an empty store: with sealed rows, a missing key is lost data, not a fresh start.
      const sealed = (db.prepare('SELECT COUNT(*) AS n FROM secret_versions').get() as { n: number }).n;
      store.key = sealed > 0 ? readStoreKey(options.keyFile) : loadOrCreateStoreKey(options.keyFile);
    }
    return store;
  }

  private get db(): Database.Database | undefined {
    return this.connection ?? (existsSync(this.options.dbFile) ? this.connect() : undefined);
  }

  private connect(): Database.Database {
    const db = new Database(this.options.dbFile);
    chmodSync(this.options.dbFile, 0o600);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    this.connection = db;
    return db;
  }

  close(): void {
    this.connection?.close();
    this.connection = undefined;
  }

  current(name: string): SecretVersion | undefined {
    const row = this.db
      ?.prepare('SELECT * FROM secret_versions WHERE name = ? ORDER BY version DESC LIMIT 1')
      .get(name) as Row | undefined;
    return row ? this.unseal(row) : undefined;
  }

  read(name: string, version: string): SecretVersion | undefined {
    const n = VERSION.exec(version)?.[1];
    if (!n || !this.db) return undefined;
    const row = this.db
      .prepare('SELECT * FROM secret_versions WHERE name = ? AND version = ?')
      .get(name, Number(n)) as Row | undefined;
    return row ? this.unseal(row) : undefined;
  }

  /** Stores a new secret as v1; an existing name is a conflict (rotate it instead). */
  set(name: string, value: Uint8Array, actor: string, now: Date): Written {
    return this.write(name, value, actor, now, 'set');
  }

  /** Adds the next version of an existing secret; the older ones stay for rollbacks. */
  rotate(name: string, value: Uint8Array, actor: string, now: Date): Written {
    return this.write(name, value, actor, now, 'rotate');
  }

  /** Removes every version of a secret; returns how many there were. */
  remove(name: string): number {
    const db = this.writable();
    const { changes } = db.prepare('DELETE FROM secret_versions WHERE name = ?').run(name);
    if (changes === 0) throw missing(name, 'removing');
    return changes;
  }

  list(): SecretSummary[] {
    if (!this.db) return [];
    const rows = this.db
      .prepare(
        `SELECT name, MAX(version) AS version, COUNT(*) AS versions, MIN(created_at) AS createdAt,
           MAX(created_at) AS updatedAt,
           (SELECT key_id FROM secret_versions v WHERE v.name = s.name ORDER BY version DESC LIMIT 1) AS keyId
         FROM secret_versions s GROUP BY name ORDER BY name`,
      )
      .all() as Array<Omit<SecretSummary, 'version'> & { version: number }>;
    return rows.map((r) => ({ ...r, version: `v${r.version}` }));
  }

  private write(name: string, value: Uint8Array, actor: string, now: Date, how: 'set' | 'rotate'): Written {
    const db = this.writable();
    const key = this.storeKey();
    return db.transaction(() => {
      const last = (
        db.prepare('SELECT MAX(version) AS v FROM secret_versions WHERE name = ?').get(name) as {
          v: number | null;
        }
      ).v;
      if (how === 'set' && last !== null) {
        throw new ConflictError(`setting secret ${name}: it exists (v${last})`, {
          hint: `give it a new value with \`cairn secret rotate ${name}\``,
        });
      }
      if (how === 'rotate' && last === null) throw missing(name, 'rotating');
      const version = (last ?? 0) + 1;
      const box = sealSecret(key, name, version, value);
      db.prepare(
        `INSERT INTO secret_versions (name, version, key_id, nonce, sealed, created_at, created_by)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(name, version, storeKeyId(key), box.nonce, box.sealed, now.toISOString(), actor);
      return { name, version: `v${version}`, keyId: storeKeyId(key) };
    })();
  }

  private unseal(row: Row): SecretVersion {
    const key = this.storeKey();
    const keyId = storeKeyId(key);
    if (row.key_id !== keyId) {
      throw new NotFoundError(
        `decrypting secret ${row.name} v${row.version}: it was sealed under store key ${row.key_id}, and keys/secrets.key is ${keyId}`,
        { hint: 'restore the store key the secret was set with, or set the secret again' },
      );
    }
    const value = openSecret(key, row.name, row.version, { nonce: row.nonce, sealed: row.sealed });
    return { name: row.name, version: `v${row.version}`, value };
  }

  private storeKey(): Buffer {
    this.key ??= readStoreKey(this.options.keyFile);
    return this.key;
  }

  private writable(): Database.Database {
    if (!this.db) throw new Error('the secret store was opened read-only');
    return this.db;
  }
}

function missing(name: string, doing: string): NotFoundError {
  return new NotFoundError(`${doing} secret ${name}: there is no such secret`, {
    hint: 'see `cairn secret list`; create it with `cairn secret set NAME`',
  });
}
