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
