/** The one place where errors become HTTP statuses, and statuses become errors again in the client. */
import {
  CairnError,
  ConflictError,
  DiskFullError,
  diskFullError,
  GateDeniedError,
  IntegrityError,
  NotFoundError,
  ValidationError,
} from '../lib/index.js';

export function statusFor(error: unknown): number {
  if (diskFullError(error)) return 507; // Insufficient Storage
  if (error instanceof ValidationError) return 400;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  if (error instanceof GateDeniedError) return 403;
  if (error instanceof IntegrityError) return 422;
  if (error instanceof CairnError) {
    if (error.code === 'unauthorized') return 401;
    if (error.code === 'forbidden') return 403;
    if (error.code === 'not_found') return 404;
    return 400;
  }
  return 500;
}

export interface ErrorBody {
  error: { code: string; message: string; hint?: string; diagnostics?: unknown[] };
}

export function errorBody(error: unknown): ErrorBody {
  const full = diskFullError(error);
  if (full && full !== error) return errorBody(full);
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
  return {
    error: { code: 'internal', message: `internal error: ${(error as Error)?.message ?? String(error)}` },
  };
}

/** Rebuilds the error the server raised, so the CLI maps it to the same exit code. */
export function errorFromBody(body: ErrorBody): CairnError {
  const { code, message, hint } = body.error;
  const options = hint ? { hint } : {};
  switch (code) {
    case 'invalid':
      return new ValidationError(message, (body.error.diagnostics ?? []) as never[], options);
    case 'not_found':
      return new NotFoundError(message, options);
    case 'conflict':
      return new ConflictError(message, options);
    case 'gate_denied':
      return new GateDeniedError(message, options);
    case 'integrity':
      return new IntegrityError(message, options);
    case 'disk_full':
      return new DiskFullError(message, options);
    default:
      return new CairnError(code, message, options);
  }
}
