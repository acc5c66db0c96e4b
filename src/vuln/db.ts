/**
 * The local OSV database: `.cairn/vuln.db`, SQLite, one row per advisory and one per affected
 * package (indexed by ecosystem and name). An import is one transaction: a malformed record
 * anywhere rolls it all back, naming the file and the record.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { NotFoundError, ValidationError } from '../lib/index.js';
import { type OsvAffected, type OsvRecord, osvProblems, osvSeverity } from './osv.js';

/** The database's file name in the workspace (`.cairn/vuln.db`). */
export const VULN_DB_FILE = 'vuln.db';

export interface AdvisoryRow {
  id: string;
  aliases: string[];
  summary: string;
  severity?: string;
  score?: number;
  vector?: string;
  ecosystem: string;
  name: string;
  affected: OsvAffected;
}

export interface VulnDbMeta {
  /** When the data was imported: a scan is as fresh as this. */
  asOf: string;
  advisories: number;
  packages: number;
  /** The newest `modified` of any record. */
  newestRecord: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS advisories (
  id TEXT PRIMARY KEY, modified TEXT NOT NULL, aliases TEXT NOT NULL, summary TEXT NOT NULL,
  severity TEXT, score REAL, vector TEXT);
CREATE TABLE IF NOT EXISTS affected (
  advisory TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
  ecosystem TEXT NOT NULL, name TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS affected_package ON affected (ecosystem, name);
CREATE INDEX IF NOT EXISTS affected_advisory ON affected (advisory);
`;

/** One record as read from a file or a zip entry, with where it came from. */
export interface OsvSourceRecord {
  source: string;
  text: string;
}

export class VulnDb {
  private constructor(private readonly db: Database.Database) {}

  /** Opens the database; without `create`, a missing one is an error that says how to make it. */
  static open(path: string, options: { create?: boolean } = {}): VulnDb {
    if (!options.create && !existsSync(path)) {
      throw new NotFoundError('scanning: there is no vulnerability database in this workspace', {
        hint: 'import OSV data with `cairn vuln db import PATH` (a directory or a zip of OSV JSON records)',
      });
    }
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.exec(SCHEMA);
    return new VulnDb(db);
  }

  close(): void {
    this.db.close();
  }

  /** Imports records (new ids added, known ids replaced); all or nothing. */
  import(records: Iterable<OsvSourceRecord>, now = new Date()): { records: number; packages: number } {
    const upsert = this.db.prepare(
      'INSERT OR REPLACE INTO advisories (id, modified, aliases, summary, severity, score, vector) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const clear = this.db.prepare('DELETE FROM affected WHERE advisory = ?');
    const add = this.db.prepare(
      'INSERT INTO affected (advisory, ecosystem, name, detail) VALUES (?, ?, ?, ?)',
    );
    const setMeta = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    let count = 0;
    let packages = 0;
    const run = this.db.transaction(() => {
      for (const { source, text } of records) {
        let record: OsvRecord;
        try {
          record = JSON.parse(text) as OsvRecord;
        } catch (error) {
          throw malformed(source, undefined, [`not JSON (${(error as Error).message})`]);
        }
        const problems = osvProblems(record);
        if (problems.length > 0) throw malformed(source, (record as { id?: unknown })?.id, problems);
        const sev = osvSeverity(record);
        upsert.run(
          record.id,
          record.modified,
          JSON.stringify(record.aliases ?? []),
          record.summary ?? '',
          sev?.severity ?? null,
          sev?.score ?? null,
          sev?.vector ?? null,
        );
        clear.run(record.id);
        for (const a of record.affected ?? []) {
          const detail: OsvAffected = {
            package: a.package,
            ranges: a.ranges ?? [],
            versions: a.versions ?? [],
          };
          add.run(record.id, a.package.ecosystem, a.package.name, JSON.stringify(detail));
          packages++;
        }
        count++;
      }
      if (count === 0) {
        throw new ValidationError('importing OSV data: no records found', [], {
          hint: 'point at a directory of OSV .json files or a zip of them, as osv.dev publishes per ecosystem (all.zip)',
        });
      }
      setMeta.run('asOf', now.toISOString());
    });
    run();
    return { records: count, packages };
  }

  meta(): VulnDbMeta | undefined {
    const asOf = (
      this.db.prepare("SELECT value FROM meta WHERE key = 'asOf'").get() as { value: string } | undefined
    )?.value;
    if (!asOf) return undefined;
    const n = this.db.prepare('SELECT COUNT(*) AS n, MAX(modified) AS newest FROM advisories').get() as {
      n: number;
      newest: string | null;
    };
    const p = this.db.prepare('SELECT COUNT(*) AS n FROM affected').get() as { n: number };
    return { asOf, advisories: n.n, packages: p.n, newestRecord: n.newest ?? '' };
  }

  private readonly lookups = new Map<number, Database.Statement>();

  /** Advisory rows for a package in any of `ecosystems`. */
  lookup(ecosystems: readonly string[], name: string): AdvisoryRow[] {
    let stmt = this.lookups.get(ecosystems.length);
    if (!stmt) {
      stmt = this.db.prepare(
        `SELECT a.id, a.aliases, a.summary, a.severity, a.score, a.vector, f.ecosystem, f.name, f.detail
         FROM affected f JOIN advisories a ON a.id = f.advisory
         WHERE f.name = ? AND f.ecosystem IN (${ecosystems.map(() => '?').join(', ')})`,
      );
      this.lookups.set(ecosystems.length, stmt);
    }
    return (stmt.all(name, ...ecosystems) as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as string,
      aliases: JSON.parse(r.aliases as string) as string[],
      summary: r.summary as string,
      ...(r.severity ? { severity: r.severity as string } : {}),
      ...(typeof r.score === 'number' ? { score: r.score } : {}),
      ...(r.vector ? { vector: r.vector as string } : {}),
      ecosystem: r.ecosystem as string,
      name: r.name as string,
      affected: JSON.parse(r.detail as string) as OsvAffected,
    }));
  }
}

function malformed(source: string, id: unknown, problems: string[]): ValidationError {
  const which = typeof id === 'string' && id !== '' ? ` record ${id}` : '';
  return new ValidationError(
    `importing OSV data: ${source}${which} is malformed: ${problems.join('; ')}`,
    [],
    {
      hint: 'fix or remove that record and import again; nothing was imported',
    },
  );
}
