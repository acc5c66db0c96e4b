/**
 * A state.db that SQLite finds damaged (a disk fault, a partial copy, a file overwritten): said as
 * such, naming the file and what to do, instead of a raw SqliteError or "this is a bug in cairn".
 */
import { CairnError } from '../../lib/index.js';

/** SQLite's extended codes for a damaged file: SQLITE_CORRUPT(_VTAB|_SEQUENCE|_INDEX), SQLITE_NOTADB. */
const CORRUPTION = /^SQLITE_(CORRUPT|NOTADB)/;

/** The database files this process opened (closed ones too: the error surfaces after `finally` closed it). */
const opened: string[] = [];

/** Whether `error` is SQLite saying the database file is damaged or not a database. */
export function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CORRUPTION.test(code);
}

/** The error a user reads for a damaged database file. */
export function corruptionError(path: string, detail: string, cause?: unknown): CairnError {
  return new CairnError(
    'state_corrupt',
    `reading the state store ${path}: the database is damaged (${detail})`,
    {
      hint:
        'stop cairn, move the file aside and restore it from a backup; then run `cairn audit verify`, ' +
        'and `cairn audit verify --export FILE --key PUB` against an export you kept, to check the audit log',
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

export function rememberOpened(path: string): void {
  if (path !== ':memory:' && !opened.includes(path)) opened.push(path);
}

/**
 * A corruption error met anywhere (a query deep in a command) as the user's error, naming the
 * database files this process has open; undefined for any other error.
 */
export function stateErrorOf(error: unknown): CairnError | undefined {
  if (!isCorruption(error)) return undefined;
  const files = opened.length > 0 ? opened.join(', ') : 'state.db';
  return corruptionError(files, (error as Error).message, error);
}
