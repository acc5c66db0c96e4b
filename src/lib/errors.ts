/**
 * The error vocabulary of cairn. Every error a user can cause is a `CairnError` with a stable
 * `code`, an action-first lower-case message and, where the user can fix it, a `hint`.
 * Only `cli/` maps these to exit codes and only `server/` maps them to HTTP statuses.
 */

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

/** Renders a diagnostic as `file:line:column: severity: message`, the form editors and CI parse. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
}

/** The system errors a user causes by where cairn runs (permissions, a full or read-only disk), and what to do. */
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
  ENOSPC: {
    reason: 'no space left on the device',
    hint: 'free space on that disk (`df -h`), or point CAIRN_HOME at a bigger one; nothing was half-written into the store',
  },
  EDQUOT: {
    reason: 'disk quota exceeded',
    hint: 'free space within your quota, or point CAIRN_HOME elsewhere',
  },
};

/**
 * A system error the user can fix (EACCES, EPERM, EROFS, ENOSPC, EDQUOT) as a CairnError naming the
 * operation and the path; undefined for anything else (a bug stays a bug).
 *
 * @example
 * fromSystemError(Object.assign(new Error('x'), { code: 'ENOSPC', syscall: 'write', path: '/w/.cairn/store/blob' }), 'building hello')
 * // CairnError: building hello: no space left on the device: write /w/.cairn/store/blob (ENOSPC)
 */
export function fromSystemError(error: unknown, action?: string): CairnError | undefined {
  const e = error as (NodeJS.ErrnoException & { dest?: string }) | undefined;
  const known = typeof e?.code === 'string' ? SYSTEM_ERRORS[e.code] : undefined;
  if (!e || !known || error instanceof CairnError) return undefined;
  const what = e.path
    ? `${e.syscall ?? 'opening'} ${e.path}${e.dest ? ` → ${e.dest}` : ''}`
    : `${e.syscall ?? 'a system call'} failed`;
  const message = `${action ? `${action}: ` : ''}${known.reason}: ${what} (${e.code})`;
  return new CairnError(`system_${e.code!.toLowerCase()}`, message, { hint: known.hint, cause: error });
}
