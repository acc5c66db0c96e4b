/**
 * When the gateway may send a failed request to another backend: always when it never reached one
 * (refused, unreachable, connect timeout), and for idempotent methods when the connection broke
 * before any answer byte. Never once an answer has started. Pure.
 */
import type { ExchangeResult } from './exchange.js';

/** RFC 9110 §9.2.2: methods a client may repeat without changing the outcome. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Whether a request with this result may be sent to another backend. */
export function retryable(method: string, result: ExchangeResult): boolean {
  if (isConnectFailure(result.error!)) return true;
  return IDEMPOTENT.has(method) && isResetBeforeAnswer(result);
}

/** True for failures where the request never reached a backend process (safe to send elsewhere). */
export function isConnectFailure(err: { code?: string }): boolean {
  return (
    err.code === 'ECONNREFUSED' ||
    err.code === 'CONNECT_TIMEOUT' ||
    err.code === 'EHOSTUNREACH' ||
    err.code === 'ENETUNREACH' ||
    err.code === 'EADDRNOTAVAIL'
  );
}

/** True when the connection broke before any response byte (the backend may or may not have acted). */
function isResetBeforeAnswer(result: ExchangeResult): boolean {
  const code = result.error?.code;
  return !result.answered && (code === 'ECONNRESET' || code === 'EPIPE');
}
