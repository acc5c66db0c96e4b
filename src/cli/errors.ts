/** The one place where errors become exit codes and what the user reads. */
import {
  CairnError,
  formatDiagnostic,
  fromSystemError,
  GateDeniedError,
  IntegrityError,
  ValidationError,
} from '../lib/index.js';
import { stateErrorOf } from '../state/index.js';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
/** `plan --detailed-exitcode` with changes present; `drift` with drift found. */
export const EXIT_CHANGES = 2;
/** A gate denied, or verification failed. */
export const EXIT_DENIED = 3;

export function exitCodeFor(error: unknown): number {
  const state = stateErrorOf(error);
  if (state) return exitCodeFor(state);
  if (error instanceof GateDeniedError || error instanceof IntegrityError) return EXIT_DENIED;
  return EXIT_ERROR;
}

/** What the user reads for an error: the message, every diagnostic, a hint; a stack only for bugs. */
export function renderError(error: unknown, debug: boolean): string {
  const system = fromSystemError(error) ?? stateErrorOf(error);
  if (system) return renderError(system, debug);
  if (error instanceof CairnError) {
    const lines = [`error: ${error.message}`];
    if (error instanceof ValidationError) lines.push(...error.diagnostics.map(formatDiagnostic));
    if (error.hint) lines.push(`hint: ${error.hint}`);
    if (debug && error.stack) lines.push(error.stack);
    return `${lines.join('\n')}\n`;
  }
  const e = error as Error;
  return `internal error: ${e?.message ?? String(error)}\n${e?.stack ?? ''}\nThis is a bug in cairn; please report it with the lines above.\n`;
}

export function errorJson(error: unknown): Record<string, unknown> {
  const system = fromSystemError(error) ?? stateErrorOf(error);
  if (system) return errorJson(system);
  if (error instanceof CairnError) {
    return {
      error: {
        code: error.code,
        message: error.message,
        ...(error.hint ? { hint: error.hint } : {}),
        ...(error instanceof ValidationError ? { diagnostics: error.diagnostics } : {}),
      },
    };
  }
  return { error: { code: 'internal', message: (error as Error)?.message ?? String(error) } };
}
