import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthFailures, LoginLimiter, SessionStore, TokenStore } from '../auth/index.js';
import { ApiServer } from '../server/api-server.js';
import { createSqliteStateStore, type SqliteStateStore } from '../state/index.js';
import { loadAssets } from './assets.js';
import { UiServer } from './ui-server.js';

const WORKSPACE_TOKEN = 'w'.repeat(43);

let dir: string;
let store: SqliteStateStore;
let ui: UiServer;
let url: string;
let audited: Array<{ actor: string; action: string }>;
let acted: string[];
let viewerToken: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-ui-'));
  store = createSqliteStateStore({ path: join(dir, 'state.db') });
  const tokens = new TokenStore(store.db);
  viewerToken = tokens.create('vera', 'viewer', 'test').token;
  acted = [];
  const api = new ApiServer(WORKSPACE_TOKEN, new AuthFailures(), (t) => tokens.verify(t))
    .on('GET', '/v1/status', () => ({ services: ['secret-data'] }))
    .on('POST', '/v1/rollback', (r) => {
      acted.push(r.principal.actor);
      return { ok: true };
    });
  audited = [];
  ui = new UiServer({
    api,
    sessions: new SessionStore(store.db),
    assets: loadAssets(join(dir, 'no-such-dir')),
    login: (t) => api.principalForToken(t),
    audit: (e) => audited.push(e),
    limiter: new LoginLimiter(3, 60_000),
  });
  url = await ui.listen('127.0.0.1', 0);
});

afterEach(async () => {
  await ui.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function login(token: string, origin = url) {
  return fetch(`${url}/ui/login`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
}

async function session(token = WORKSPACE_TOKEN) {
  const res = await login(token);
  expect(res.status).toBe(200);
  const cookie = res.headers.get('set-cookie')!;
  const body = (await res.json()) as { csrf: string; role: string; user: string };
  return { cookie: cookie.split(';')[0]!, raw: cookie, ...body };
}

describe('the dashboard listener', () => {
  it('answers 401 without a session, with no data, and a strict CSP on every response', async () => {
    const res = await fetch(`${url}/v1/status`);
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain('secret-data');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(503);
    expect(await page.text()).toContain('npm run build');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('exchanges a token for an HttpOnly, SameSite=Strict cookie named after its port; audits the login', async () => {
    const s = await session();
    const port = new URL(url).port;
    expect(s.raw).toMatch(
      new RegExp(
        `^cairn_session_${port}=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=\\d+$`,
      ),
    );
    expect(s.raw).not.toContain('Secure');
    expect(s).toMatchObject({ user: 'api', role: 'operator' });
    const status = await fetch(`${url}/v1/status`, { headers: { cookie: s.cookie } });
    expect(await status.json()).toEqual({ services: ['secret-data'] });
    expect(audited).toEqual([expect.objectContaining({ actor: 'api@dashboard', action: 'ui.login' })]);
  });

  it('refuses an action without the CSRF token or from another origin, and does nothing', async () => {
    const s = await session();
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/v1/rollback`, { method: 'POST', headers: { cookie: s.cookie, ...headers }, body: '{}' });
    expect((await post({ origin: url })).status).toBe(403);
    expect((await post({ origin: 'http://evil.example', 'x-csrf-token': s.csrf })).status).toBe(403);
    expect((await post({ 'x-csrf-token': s.csrf })).status).toBe(403);
    expect(acted).toEqual([]);
    expect((await post({ origin: url, 'x-csrf-token': s.csrf })).status).toBe(200);
    expect(acted).toEqual(['api@dashboard']);
  });

  it('lets a viewer read but not act (403), and logs out for good', async () => {
    const s = await session(viewerToken);
    expect(s.role).toBe('viewer');
    const act = await fetch(`${url}/v1/rollback`, {
      method: 'POST',
      headers: { cookie: s.cookie, origin: url, 'x-csrf-token': s.csrf },
      body: '{}',
    });
    expect(act.status).toBe(403);
    expect(acted).toEqual([]);
    const out = await fetch(`${url}/ui/logout`, {
      method: 'POST',
      headers: { cookie: s.cookie, origin: url, 'x-csrf-token': s.csrf },
    });
    expect(out.status).toBe(200);
    expect((await fetch(`${url}/v1/status`, { headers: { cookie: s.cookie } })).status).toBe(401);
  });

  it('answers only to its loopback names (a rebound DNS name gets 421 and nothing else)', async () => {
    const { request } = await import('node:http');
    const status = (host: string) =>
      new Promise<number>((resolve, reject) =>
        request(`${url}/`, { headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end(),
      );
    const port = new URL(url).port;
    expect(await status(`evil.example:${port}`)).toBe(421);
    expect(await status(`localhost:${port}`)).toBe(503);
    expect(await status(`127.0.0.1:${port}`)).toBe(503);
  });

  it('throttles failed logins and audits each one', async () => {
    for (let i = 0; i < 3; i++) expect((await login('cairn_nope')).status).toBe(401);
    const refused = await login(WORKSPACE_TOKEN);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('set-cookie')).toBeNull();
    expect(audited.filter((a) => a.action === 'ui.login_failed')).toHaveLength(3);
    expect((await login(WORKSPACE_TOKEN, 'http://evil.example')).status).toBe(403);
  });

  it('serves HTTPS with a given certificate, and then marks the session cookie Secure', async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'ui.key'),
        '-out',
        join(dir, 'ui.crt'),
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'ui.crt'));
    const tokens = new TokenStore(store.db);
    const secureApi = new ApiServer(WORKSPACE_TOKEN, new AuthFailures(), (t) => tokens.verify(t));
    const secure = new UiServer({
      api: secureApi,
      sessions: new SessionStore(store.db),
      assets: new Map(),
      login: (t) => secureApi.principalForToken(t),
      audit: () => {},
      tls: { cert, key: readFileSync(join(dir, 'ui.key')) },
    });
    const base = await secure.listen('127.0.0.1', 0);
    try {
      expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const post = (origin: string) =>
        new Promise<{ status: number; cookie: string }>((resolve, reject) => {
          const req = httpsRequest(
            `${base}/ui/login`,
            { method: 'POST', ca: cert, headers: { origin, 'content-type': 'application/json' } },
            (res) => {
              res.resume();
              resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie'] ?? '') });
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify({ token: WORKSPACE_TOKEN }));
        });
      const ok = await post(base);
      expect(ok.status).toBe(200);
      expect(ok.cookie).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
      expect((await post(base.replace('https:', 'http:'))).status).toBe(403);
    } finally {
      await secure.close();
    }
  });
});
