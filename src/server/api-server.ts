/**
 * The control plane's HTTP API on 127.0.0.1: JSON in and out, every call but /v1/health behind a
 * bearer token — the workspace's `.cairn/api-token` (the CLI) or a user token from `cairn token
 * create`. Reads need role viewer, everything else operator (403 otherwise). A failed
 * authentication changes nothing: it is answered 401 — 429 with Retry-After once the client has
 * failed too often (`AuthFailures`) — and tallied per client for the audit log, not logged one by one.
 * The dashboard serves the same routes with its session instead of a bearer token (`dispatch`).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthFailures, allows, type Principal, type Role, WORKSPACE_PRINCIPAL } from '../auth/index.js';
import { CairnError, ValidationError } from '../lib/index.js';
import { errorBody, statusFor } from './api-errors.js';
import { checkPathEncoding, decodePathSegment } from './path-params.js';

export type Handler = (req: ApiRequest) => Promise<unknown> | unknown;
/** A long-lived response (Server-Sent Events): the handler owns `res` until it ends. */
export type StreamHandler = (req: ApiRequest, res: ServerResponse) => void;

export interface ApiRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  /** Who called; its actor goes into audit entries. */
  principal: Principal;
  /** Whether the caller may still read (its session lives, its token was not revoked): for streams. */
  stillAuthorized: () => boolean;
}

interface RouteEntry {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
  role: Role;
  workspaceOnly?: boolean;
  /** Plain text (Prometheus) instead of JSON. */
  text?: boolean;
  stream?: StreamHandler;
}

export interface RouteOptions {
  text?: boolean;
  /** Who may call it: viewer for GET, operator otherwise, unless given. */
  role?: Role;
  /** Only the workspace's own token (the CLI on this machine), e.g. stopping the control plane. */
  workspaceOnly?: boolean;
}

/** Looks a bearer token up among the user tokens (the workspace token is checked first). */
export type TokenLookup = (token: string) => Principal | undefined;

const MAX_BODY_BYTES = 1 << 20;

export class ApiServer {
  private readonly routes: RouteEntry[] = [];
  private server: Server | undefined;

  constructor(
    private readonly token: string,
    /** Throttles and tallies failed authentications; the control plane drains it into the audit log. */
    readonly authFailures: AuthFailures = new AuthFailures(),
    private readonly userTokens: TokenLookup = () => undefined,
  ) {}

  /** Registers `METHOD /path/:param` → handler. */
  on(method: string, path: string, handler: Handler, options: RouteOptions = {}): this {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/:([a-z]+)/gi, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      })}$`,
    );
    const role = options.role ?? (method === 'GET' ? 'viewer' : 'operator');
    this.routes.push({
      method,
      pattern,
      names,
      handler,
      role,
      ...(options.text ? { text: true } : {}),
      ...(options.workspaceOnly ? { workspaceOnly: true } : {}),
    });
    return this;
  }

  /** Registers a GET that streams (Server-Sent Events). */
  stream(path: string, handler: StreamHandler): this {
    this.on('GET', path, () => undefined);
    this.routes.at(-1)!.stream = handler;
    return this;
  }

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    const { port: bound } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${bound}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Who a token stands for: the workspace token or a user token (also the dashboard's login). */
  principalForToken(token: string): Principal | undefined {
    const given = Buffer.from(token);
    const expected = Buffer.from(this.token);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return WORKSPACE_PRINCIPAL;
    return token ? this.userTokens(token) : undefined;
  }

  private principalOf(req: IncomingMessage): Principal | undefined {
    const header = req.headers.authorization ?? '';
    return this.principalForToken(header.startsWith('Bearer ') ? header.slice(7) : '');
  }

  private handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const principal = path === '/v1/health' ? WORKSPACE_PRINCIPAL : this.principalOf(req);
    if (!principal) {
      // A valid token is checked first: a flood of bad ones from the same address (every local
      // client is 127.0.0.1) never locks out the CLI, and a 256-bit token is not guessed by retrying.
      const waitMs = this.authFailures.fail(req.socket.remoteAddress ?? '', path);
      if (waitMs > 0) return Promise.resolve(tooManyFailures(res, waitMs));
      return this.dispatch(req, res, undefined);
    }
    return this.dispatch(req, res, principal, () => this.principalOf(req) !== undefined);
  }

  /**
   * Answers one request for an authenticated principal (undefined: 401). `stillAuthorized` tells a
   * long-lived stream when its caller's session or token is gone.
   */
  async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal | undefined,
    stillAuthorized: () => boolean = () => true,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    try {
      if (!principal) {
        throw new CairnError('unauthorized', 'authenticating the request: missing or wrong bearer token', {
          hint: 'the CLI reads the token from .cairn/api-token; `cairn token create` makes one per user',
        });
      }
      checkPathEncoding(url.pathname);
      const route = this.routes.find((r) => r.method === method && r.pattern.test(url.pathname));
      if (!route) throw new CairnError('not_found', `no API endpoint ${method} ${url.pathname}`);
      if (!allows(principal.role, route.role)) {
        throw new CairnError(
          'forbidden',
          `${method} ${url.pathname}: the token of "${principal.name}" may only read`,
          {
            hint: 'an operator token (`cairn token create --role operator`) may act',
          },
        );
      }
      if (route.workspaceOnly && principal !== WORKSPACE_PRINCIPAL) {
        throw new CairnError(
          'forbidden',
          `${method} ${url.pathname}: only the workspace's own token may do this`,
          {
            hint: 'run the command on the machine, where the CLI reads .cairn/api-token',
          },
        );
      }
      const match = route.pattern.exec(url.pathname)!;
      const params = Object.fromEntries(
        route.names.map((n, i) => [n, decodePathSegment(match[i + 1]!, url.pathname)]),
      );
      const body = method === 'GET' ? {} : await readJson(req);
      const request = {
        method,
        path: url.pathname,
        params,
        query: url.searchParams,
        body,
        principal,
        stillAuthorized,
      };
      if (route.stream) {
        route.stream(request, res);
        return;
      }
      const result = await route.handler(request);
      if (route.text) {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(String(result));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(result ?? {})}\n`);
      }
    } catch (error) {
      const status = statusFor(error);
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(errorBody(error))}\n`);
    }
  }
}

function tooManyFailures(res: ServerResponse, waitMs: number): void {
  const seconds = Math.ceil(waitMs / 1000);
  res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(seconds) }).end(
    `${JSON.stringify({
      error: {
        code: 'rate_limited',
        message: `authenticating the request: too many failed attempts from this address; try again in ${seconds} s`,
        hint: 'the CLI reads the token from .cairn/api-token; `cairn token create` makes one per user',
      },
    })}\n`,
  );
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ValidationError('reading the request: body larger than 1 MiB', []);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new ValidationError('reading the request: the body is not a JSON object', []);
  }
}
