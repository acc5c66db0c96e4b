/**
 * The error vocabulary of cairn. Every error a user can cause is a `CairnError` with a stable
 * `code`, an action-first lower-case message and, where the user can fix it, a `hint`.
 * Only `cli/` maps these to exit codes and only `server/` maps them to HTTP statuses.
 */
import { dirname } from 'node:path';

export interface ErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class CairnError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

/** A location in a file, 1-based, as editors count. */
export interface Location {
  file: string;
  line: number;
  column: number;
}

export type Severity = 'error' | 'warning';

export interface Diagnostic extends Location {
  severity: Severity;
  message: string;
  /** The dotted path of the offending value, e.g. `services.hello.run.port`. */
  path?: string;
}

/** Input that does not satisfy a schema or a rule; carries every problem found, not only the first. */
export class ValidationError extends CairnError {
  readonly diagnostics: Diagnostic[];
  constructor(message: string, diagnostics: Diagnostic[], options: ErrorOptions = {}) {
    super('invalid', message, options);
    this.diagnostics = diagnostics;
  }
}

export class NotFoundError extends CairnError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('not_found', message, options);
  }
}

export class ConflictError extends CairnError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('conflict', message, options);
  }
}

/** A gate (signature, policy, scan, predecessor) said no. Exit code 3. */
export class GateDeniedError extends CairnError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('gate_denied', message, options);
  }
}

/** Bytes are not what their digest, signature or proof says. Exit code 3. */
export class IntegrityError extends CairnError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('integrity', message, options);
  }
}

/** A runtime driver (runc, bwrap, process, kubernetes) failed. */
export class DriverError extends CairnError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('driver', message, options);
  }
}

/**
 * The disk that holds the workspace (or the file named) has no room left: ENOSPC, EDQUOT, or
 * SQLite's SQLITE_FULL. A change that needs the disk fails with this; exit 1, HTTP 507.
 */
export class DiskFullError extends CairnError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('disk_full', message, options);
  }
}

/** Node's errno codes and SQLite's result code that mean "the disk (or the quota) is full". */
const DISK_FULL_CODES: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  SQLITE_FULL: 'no space left on device',
};

/**
 * Whether an error means the disk is full. An ENOSPC from `watch` is the inotify limit, not a
 * full disk, and is left out.
 */
export function isDiskFull(error: unknown): boolean {
  if (error instanceof DiskFullError) return true;
  const e = error as NodeJS.ErrnoException | undefined;
  return typeof e?.code === 'string' && e.code in DISK_FULL_CODES && e.syscall !== 'watch';
}

/**
 * A full-disk error as a `DiskFullError` naming the operation and the file (`path` when the error
 * does not carry one, as SQLite's do not); undefined for any other error.
 *
 * @example
 * diskFullError(sqliteFull, 'creating a token', '/w/.cairn/state.db')
 * // DiskFullError: creating a token: no space left on device: writing /w/.cairn/state.db (SQLITE_FULL)
 */
export function diskFullError(error: unknown, action?: string, path?: string): DiskFullError | undefined {
  if (!isDiskFull(error)) return undefined;
  if (error instanceof DiskFullError) return error;
  const e = error as NodeJS.ErrnoException;
  const file = e.path ?? path;
  const what = file
    ? `${e.path ? (e.syscall ?? 'writing') : 'writing'} ${file}`
    : `${e.syscall ?? 'writing'} failed`;
  const message = `${action ? `${action}: ` : ''}${DISK_FULL_CODES[e.code!]}: ${what} (${e.code})`;
  return new DiskFullError(message, { hint: diskFullHint(file), cause: error });
}

/** What to do about a full disk: free space where the file `path` (or the folder `dir`) lives, then retry. */
export function diskFullHint(path?: string, dir = path && dirname(path)): string {
  const where = dir ? ` (\`df -h ${dir}\` shows it)` : ' (`df -h`)';
  return `free space on that disk${where}, then retry; or point CAIRN_HOME at a bigger one`;
}

/** Renders a diagnostic as `file:line:column: severity: message`, the form editors and CI parse. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
}

/** The system errors a user causes by where cairn runs (permissions, a read-only disk), and what to do. */
const SYSTEM_ERRORS: Record<string, { reason: string; hint: string }> = {
  EACCES: {
    reason: 'permission denied',
    hint: 'run cairn as the user that owns the workspace (see `ls -ld .cairn`), or give that user access',
  },
  EPERM: {
    reason: 'operation not permitted',
    hint: 'run cairn as the user that owns the workspace (see `ls -ld .cairn`); runc needs root',
  },
  EROFS: {
    reason: 'the file system is read-only',
    hint: 'put the workspace on a writable file system (or point CAIRN_HOME at one)',
  },
};

/**
 * A system error the user can fix (EACCES, EPERM, EROFS; a full disk, see `diskFullError`) as a CairnError naming the
 * operation and the path; undefined for anything else (a bug stays a bug).
 *
 * @example
 * fromSystemError(Object.assign(new Error('x'), { code: 'ENOSPC', syscall: 'write', path: '/w/.cairn/store/blob' }), 'building hello')
 * // CairnError: building hello: no space left on the device: write /w/.cairn/store/blob (ENOSPC)
 */
export function fromSystemError(error: unknown, action?: string): CairnError | undefined {
  if (isDiskFull(error) && !(error instanceof CairnError)) return diskFullError(error, action);
  const e = error as (NodeJS.ErrnoException & { dest?: string }) | undefined;
  const known = typeof e?.code === 'string' ? SYSTEM_ERRORS[e.code] : undefined;
  if (!e || !known || error instanceof CairnError) return undefined;
  const what = e.path
    ? `${e.syscall ?? 'opening'} ${e.path}${e.dest ? ` → ${e.dest}` : ''}`
    : `${e.syscall ?? 'a system call'} failed`;
  const message = `${action ? `${action}: ` : ''}${known.reason}: ${what} (${e.code})`;
  return new CairnError(`system_${e.code!.toLowerCase()}`, message, { hint: known.hint, cause: error });
}
