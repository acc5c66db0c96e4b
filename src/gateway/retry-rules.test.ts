import { describe, expect, it } from 'vitest';
import type { ExchangeResult } from './exchange.js';
import { isConnectFailure, retryable } from './retry-rules.js';

const failed = (code: string, answered = false) =>
  ({ error: { code }, answered }) as unknown as ExchangeResult;

describe('retry rules', () => {
  it('retries any method that never reached a backend', () => {
    for (const code of ['ECONNREFUSED', 'CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']) {
      expect(isConnectFailure({ code })).toBe(true);
      expect(retryable('POST', failed(code))).toBe(true);
    }
  });

  it('retries a reset before any answer only for idempotent methods, and never after an answer began', () => {
    expect(retryable('GET', failed('ECONNRESET'))).toBe(true);
    expect(retryable('PUT', failed('EPIPE'))).toBe(true);
    expect(retryable('POST', failed('ECONNRESET'))).toBe(false);
    expect(retryable('PATCH', failed('ECONNRESET'))).toBe(false);
    expect(retryable('GET', failed('ECONNRESET', true))).toBe(false);
    expect(retryable('GET', failed('ETIMEDOUT'))).toBe(false);
  });
});
