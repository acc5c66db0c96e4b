/**
 * Failed API authentications per client: throttled as dashboard logins are (a sliding window of
 * failures, then "wait") and tallied, so the audit log gets one entry per client per interval
 * with the count — a record of changes, not one permanent leaf per stray request. Pure; the
 * clock is injected.
 */
import { LoginLimiter } from './login-limiter.js';

/** Failed authentications a client may make per window before it is answered 429. */
export const API_AUTH_FAILURES_PER_WINDOW = 10;
export const API_AUTH_WINDOW_MS = 60_000;
/** Distinct paths a tally names (they are the caller's text: bounded in number and length). */
const PATHS_PER_TALLY = 5;
const PATH_CHARS = 200;
/** Clients tallied apiece per interval; past this, the rest share one tally. */
const CLIENTS_PER_INTERVAL = 1_000;
const OTHER_CLIENTS = 'other';

/** One client's failed authentications over an interval: the detail of one `api.auth_failed` entry. */
export interface AuthFailureTally {
  remote: string;
  /** Failed attempts, throttled ones included. */
  count: number;
  /** Of those, the ones answered 429 (refused without looking at the token's rights). */
  throttled: number;
  firstAt: string;
  lastAt: string;
  /** Up to five distinct paths asked for. */
  paths: string[];
}

/**
 * The API's failed authentications: `fail` says whether to answer 401 or 429, `drain` gives the
 * audit log its aggregated entries.
 *
 * @example
 * const failures = new AuthFailures();
 * const waitMs = failures.fail('127.0.0.1', '/v1/status'); // 0 → 401; > 0 → 429, Retry-After
 * for (const tally of failures.drain()) record({ action: 'api.auth_failed', detail: tally });
 */
export class AuthFailures {
  private readonly limiter: LoginLimiter;
  private tallies = new Map<string, AuthFailureTally>();

  constructor(
    maxFailures = API_AUTH_FAILURES_PER_WINDOW,
    windowMs = API_AUTH_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.limiter = new LoginLimiter(maxFailures, windowMs, now);
  }

  /**
   * Notes one failed authentication of `client`; returns how long it must wait (ms) when it is
   * throttled — answer 429 — or 0 when it is not (answer 401).
   */
  fail(client: string, path: string): number {
    const wait = this.limiter.retryAfterMs(client);
    if (wait <= 0) this.limiter.fail(client);
    this.tally(client, path, wait > 0);
    return Math.max(0, wait);
  }

  /** The tallies since the last call, one per client, oldest first; forgets them. */
  drain(): AuthFailureTally[] {
    const out = [...this.tallies.values()];
    this.tallies = new Map();
    this.limiter.sweep();
    return out;
  }

  private tally(client: string, path: string, throttled: boolean): void {
    const key = this.tallies.has(client) || this.tallies.size < CLIENTS_PER_INTERVAL ? client : OTHER_CLIENTS;
    const at = new Date(this.now()).toISOString();
    let t = this.tallies.get(key);
    if (!t) {
      t = { remote: key, count: 0, throttled: 0, firstAt: at, lastAt: at, paths: [] };
      this.tallies.set(key, t);
    }
    t.count++;
    if (throttled) t.throttled++;
    t.lastAt = at;
    const shown = path.slice(0, PATH_CHARS);
    if (t.paths.length < PATHS_PER_TALLY && !t.paths.includes(shown)) t.paths.push(shown);
  }
}
