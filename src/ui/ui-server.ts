/**
 * The dashboard's own listener (`cairn up --ui ADDRESS`): the built page, login and logout, and
 * the control plane's API behind a session cookie instead of a bearer token, over HTTP or, given a
 * certificate, HTTPS. Sessions are HttpOnly, SameSite=Strict cookies (Secure over HTTPS); every call that changes
 * something needs the session's CSRF token in `x-csrf-token` and a same-origin `Origin`. Failed
 * logins are throttled per client and audited; every response carries a strict CSP.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { csrfMatches, LoginLimiter, type Principal, type Session, type SessionStore } from '../auth/index.js';
import type { ApiServer } from '../server/api-server.js';
import type { Asset } from './assets.js';

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const MAX_LOGIN_BYTES = 4096;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export interface UiServerDeps {
  api: ApiServer;
  sessions: SessionStore;
  assets: Map<string, Asset>;
  /** Who a pasted token stands for (the API's own lookup: workspace token, then user tokens). */
  login: (token: string) => Principal | undefined;
  audit: (event: { actor: string; action: string; detail: Record<string, unknown> }) => void;
  limiter?: LoginLimiter;
  /** Serve HTTPS with this certificate and key (PEM); the session cookie is then also `Secure`. */
  tls?: { cert: Buffer; key: Buffer };
}

export class UiServer {
  private server: Server | undefined;
  private cookieName = 'cairn_session';
  /** The Host headers it answers (on a loopback address: its own names only). */
  private hosts: Set<string> | undefined;
  private readonly limiter: LoginLimiter;

  constructor(private readonly deps: UiServerDeps) {
    this.limiter = deps.limiter ?? new LoginLimiter();
  }

  /** Listens on `host:port` (port 0: any free one); resolves with the page's URL. */
  async listen(host: string, port: number): Promise<string> {
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) send(res, 500, { error: { code: 'internal', message: 'internal error' } });
        else res.destroy();
      });
    };
    const tls = this.deps.tls;
    const server = tls
      ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest)
      : createServer(onRequest);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const bound = (server.address() as AddressInfo).port;
    if (LOOPBACK.has(host))
      this.hosts = new Set([...LOOPBACK].map((h) => `${h.includes(':') ? `[${h}]` : h}:${bound}`));
    // Cookies are per host, not per port: two workspaces' dashboards on one machine must not share one.
    this.cookieName = `cairn_session_${bound}`;
    return `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (this.hosts && !this.hosts.has(header(req, 'host') ?? '')) {
      // A page on another name that resolves here (DNS rebinding) gets nothing, not even the page.
      return sendText(res, 421, 'this dashboard answers only to its loopback address\n');
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path.startsWith('/v1/')) return this.api(req, res, method);
    if (path === '/ui/login' && method === 'POST') return this.loginRequest(req, res);
    if (path === '/ui/logout' && method === 'POST') return this.logout(req, res);
    if (path === '/ui/session' && method === 'GET') {
      const session = this.session(req);
      if (!session) return send(res, 401, unauthorized());
      return send(res, 200, sessionBody(session));
    }
    if (method !== 'GET' && method !== 'HEAD')
      return send(res, 405, { error: { code: 'method', message: `${method} ${path}` } });
    const asset = this.deps.assets.get(path === '/' ? '/index.html' : path);
    if (!asset) {
      if (this.deps.assets.size === 0)
        return sendText(res, 503, 'The dashboard is not built: run `npm run build` in the cairn checkout.\n');
      return sendText(res, 404, 'not found\n');
    }
    serveAsset(req, res, asset);
  }

  private async api(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    res.setHeader('cache-control', 'no-store');
    const cookie = this.cookie(req);
    const session = this.deps.sessions.get(cookie);
    if (session && method !== 'GET' && method !== 'HEAD') {
      if (!sameOrigin(req) || !csrfMatches(session, header(req, 'x-csrf-token'))) {
        return send(res, 403, {
          error: {
            code: 'csrf',
            message:
              'refusing the action: the request did not come from this dashboard (missing or wrong CSRF token)',
            hint: 'reload the page and try again',
          },
        });
      }
    }
    await this.deps.api.dispatch(req, res, session?.principal, () => this.deps.sessions.alive(cookie));
  }

  private async loginRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('cache-control', 'no-store');
    const client = req.socket.remoteAddress ?? '';
    if (!sameOrigin(req))
      return send(res, 403, { error: { code: 'csrf', message: 'logging in: wrong origin' } });
    const wait = this.limiter.retryAfterMs(client);
    if (wait > 0) {
      res.setHeader('retry-after', String(Math.ceil(wait / 1000)));
      return send(res, 429, {
        error: {
          code: 'rate_limited',
          message: `logging in: too many failed attempts; try again in ${Math.ceil(wait / 1000)} s`,
        },
      });
    }
    const token = await readToken(req);
    const principal = token ? this.deps.login(token) : undefined;
    if (!principal) {
      this.limiter.fail(client);
      this.deps.audit({ actor: 'anonymous', action: 'ui.login_failed', detail: { remote: client } });
      return send(res, 401, {
        error: {
          code: 'unauthorized',
          message: 'logging in: that token is not valid',
          hint: '`cairn token create --name NAME --role viewer|operator` makes one',
        },
      });
    }
    this.limiter.succeed(client);
    const { id, session } = this.deps.sessions.open(principal);
    const maxAge = Math.floor((session.expiresAt - Date.now()) / 1000);
    res.setHeader(
      'set-cookie',
      `${this.cookieName}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${this.deps.tls ? '; Secure' : ''}`,
    );
    this.deps.audit({
      actor: session.principal.actor,
      action: 'ui.login',
      detail: { user: principal.name, role: principal.role, remote: client },
    });
    send(res, 200, sessionBody(session));
  }

  private logout(req: IncomingMessage, res: ServerResponse): void {
    const session = this.session(req);
    if (session && (!sameOrigin(req) || !csrfMatches(session, header(req, 'x-csrf-token')))) {
      send(res, 403, { error: { code: 'csrf', message: 'logging out: missing or wrong CSRF token' } });
      return;
    }
    this.deps.sessions.close(this.cookie(req));
    res.setHeader('set-cookie', `${this.cookieName}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    send(res, 200, { loggedOut: true });
  }

  private cookie(req: IncomingMessage): string | undefined {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === this.cookieName) return rest.join('=');
    }
    return undefined;
  }

  private session(req: IncomingMessage): Session | undefined {
    return this.deps.sessions.get(this.cookie(req));
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The browser's Origin names this very listener (what a cross-site form or fetch cannot fake). */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = header(req, 'origin');
  const host = header(req, 'host');
  const scheme = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  return Boolean(origin && host && origin === `${scheme}://${host}`);
}

function sessionBody(session: Session) {
  return {
    user: session.principal.name,
    role: session.principal.role,
    csrf: session.csrf,
    expiresAt: new Date(session.expiresAt).toISOString(),
  };
}

function unauthorized() {
  return { error: { code: 'unauthorized', message: 'not logged in (or the session expired)' } };
}

async function readToken(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_LOGIN_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { token?: unknown };
    return typeof body.token === 'string' ? body.token.trim() : undefined;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
}

function serveAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const headers: Record<string, string> = {
    'content-type': asset.type,
    etag: asset.etag,
    'cache-control': 'no-cache',
    vary: 'accept-encoding',
  };
  if (header(req, 'if-none-match') === asset.etag) {
    res.writeHead(304, headers).end();
    return;
  }
  const gzip = /\bgzip\b/.test(header(req, 'accept-encoding') ?? '');
  const body = gzip ? asset.gzip : asset.body;
  res.writeHead(200, {
    ...headers,
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    'content-length': String(body.length),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
