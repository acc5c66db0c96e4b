import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStateStore, type SqliteStateStore } from '../state/sqlite/sqlite-state-store.js';
import { allows, csrfMatches, LoginLimiter, SessionStore, TokenStore, tokenHash } from './index.js';

let dir: string;
let store: SqliteStateStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-auth-'));
  store = createSqliteStateStore({ path: join(dir, 'state.db') });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tokens', () => {
  it('stores only the hash and knows the token afterwards', () => {
    const tokens = new TokenStore(store.db);
    const { token, info } = tokens.create('alice', 'viewer', 'root@host');
    expect(info.role).toBe('viewer');
    const rows = store.db.prepare('SELECT * FROM api_tokens').all() as Array<Record<string, string>>;
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows[0]!.token_hash).toBe(tokenHash(token));
    expect(tokens.verify(token)).toEqual({ name: 'alice', role: 'viewer', actor: 'alice@api' });
    expect(tokens.verify(`${token}x`)).toBeUndefined();
    expect(tokens.verify('not-a-token')).toBeUndefined();
  });

  it('refuses a second token for a name, bad names and "api"; revoke ends its sessions', () => {
    const tokens = new TokenStore(store.db);
    const { token } = tokens.create('bob', 'operator', 'me');
    expect(() => tokens.create('bob', 'viewer', 'me')).toThrow(/already has one/);
    expect(() => tokens.create('Bad Name', 'viewer', 'me')).toThrow(/not a usable name/);
    expect(() => tokens.create('api', 'viewer', 'me')).toThrow(/not a usable name/);
    const sessions = new SessionStore(store.db);
    const { id } = sessions.open(tokens.verify(token)!);
    expect(sessions.get(id)).toBeDefined();
    tokens.revoke('bob');
    expect(tokens.verify(token)).toBeUndefined();
    expect(sessions.get(id)).toBeUndefined();
    expect(() => tokens.revoke('bob')).toThrow(/there is none/);
  });

  it('orders roles', () => {
    expect(allows('operator', 'viewer')).toBe(true);
    expect(allows('viewer', 'operator')).toBe(false);
  });
});

describe('sessions', () => {
  it('expire when idle and at their maximum age; keep only hashes', () => {
    let t = 1_000_000;
    const sessions = new SessionStore(store.db, { idleMs: 10_000, maxMs: 25_000 }, () => t);
    const { id, session } = sessions.open({ name: 'alice', role: 'operator', actor: 'x' });
    expect(session.principal.actor).toBe('alice@dashboard');
    expect(JSON.stringify(store.db.prepare('SELECT * FROM ui_sessions').all())).not.toContain(id);
    t += 9_000;
    expect(sessions.get(id)?.principal.name).toBe('alice');
    t += 9_000; // 18 s after login, 9 s after the last request: still alive (idle restarted)
    expect(sessions.get(id)).toBeDefined();
    expect(sessions.alive(id)).toBe(true);
    t += 9_000; // 27 s: past the maximum age
    expect(sessions.alive(id)).toBe(false);
    expect(sessions.get(id)).toBeUndefined();
    const second = sessions.open({ name: 'alice', role: 'viewer', actor: 'x' });
    t += 11_000;
    expect(sessions.get(second.id)).toBeUndefined();
    expect(sessions.get(undefined)).toBeUndefined();
  });

  it('checks the CSRF token exactly', () => {
    const sessions = new SessionStore(store.db);
    const { session } = sessions.open({ name: 'a', role: 'viewer', actor: 'a' });
    expect(csrfMatches(session, session.csrf)).toBe(true);
    expect(csrfMatches(session, `${session.csrf.slice(0, -1)}x`)).toBe(false);
    expect(csrfMatches(session, undefined)).toBe(false);
  });
});

describe('login limiter', () => {
  it('refuses after 5 failures in a minute and lets the client in once they age out', () => {
    let t = 0;
    const limiter = new LoginLimiter(5, 60_000, () => t);
    for (let i = 0; i < 5; i++) {
      expect(limiter.retryAfterMs('127.0.0.1')).toBe(0);
      limiter.fail('127.0.0.1');
      t += 1000;
    }
    expect(limiter.retryAfterMs('127.0.0.1')).toBe(55_000);
    expect(limiter.retryAfterMs('::1')).toBe(0);
    t = 60_001;
    expect(limiter.retryAfterMs('127.0.0.1')).toBe(0);
    limiter.succeed('127.0.0.1');
    expect(limiter.retryAfterMs('127.0.0.1')).toBe(0);
  });
});
