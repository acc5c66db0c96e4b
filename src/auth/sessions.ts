/**
 * Dashboard sessions: a random id in an HttpOnly cookie, kept in state.db by its hash, with a CSRF
 * token the page sends back on every action. A session ends after `idleMs` without a request or
 * `maxMs` after login, whichever comes first; a restarted control plane keeps them.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Principal, Role } from './principal.js';
import { tokenHash } from './tokens.js';

export interface Session {
  principal: Principal;
  csrf: string;
  expiresAt: number;
}

export interface SessionLimits {
  idleMs: number;
  maxMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 30 * 60_000, maxMs: 12 * 3600_000 };

export class SessionStore {
  constructor(
    private readonly db: Database.Database,
    private readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Opens a session; returns the cookie value (never stored) and the CSRF token. */
  open(principal: Principal): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const t = this.now();
    const expiresAt = t + this.limits.maxMs;
    this.db
      .prepare(
        'INSERT INTO ui_sessions (id_hash, user, role, csrf, created_at, expires_at, idle_until) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(tokenHash(id), principal.name, principal.role, csrf, t, expiresAt, t + this.limits.idleMs);
    this.db.prepare('DELETE FROM ui_sessions WHERE expires_at < ? OR idle_until < ?').run(t, t);
    return {
      id,
      session: { principal: dashboardPrincipal(principal.name, principal.role), csrf, expiresAt },
    };
  }

  /** The live session behind a cookie value (its idle time restarts), or undefined. */
  get(id: string | undefined): Session | undefined {
    const live = this.live(id);
    if (!live) return undefined;
    const { hash, row, t } = live;
    const idleUntil = Math.min(row.expires_at, t + this.limits.idleMs);
    if (idleUntil - row.idle_until > 1000)
      this.db.prepare('UPDATE ui_sessions SET idle_until = ? WHERE id_hash = ?').run(idleUntil, hash);
    return { principal: dashboardPrincipal(row.user, row.role), csrf: row.csrf, expiresAt: row.expires_at };
  }

  /** Whether the session behind a cookie value still lives, without counting this as a request. */
  alive(id: string | undefined): boolean {
    return this.live(id) !== undefined;
  }

  /** The row of a session that has not ended yet; an ended one is deleted on the way. */
  private live(id: string | undefined) {
    if (!id) return undefined;
    const hash = tokenHash(id);
    const row = this.db
      .prepare('SELECT user, role, csrf, expires_at, idle_until FROM ui_sessions WHERE id_hash = ?')
      .get(hash) as
      | { user: string; role: Role; csrf: string; expires_at: number; idle_until: number }
      | undefined;
    if (!row) return undefined;
    const t = this.now();
    if (t >= row.expires_at || t >= row.idle_until) {
      this.db.prepare('DELETE FROM ui_sessions WHERE id_hash = ?').run(hash);
      return undefined;
    }
    return { hash, row, t };
  }

  close(id: string | undefined): void {
    if (id) this.db.prepare('DELETE FROM ui_sessions WHERE id_hash = ?').run(tokenHash(id));
  }
}

function dashboardPrincipal(name: string, role: Role): Principal {
  return { name, role, actor: `${name}@dashboard` };
}

/** Constant-time comparison of the CSRF header with the session's token. */
export function csrfMatches(session: Session, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}
