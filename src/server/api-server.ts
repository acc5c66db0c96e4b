/**
 * The control plane's HTTP API on 127.0.0.1: JSON in and out, every call but /v1/health behind the
 * bearer token of `.cairn/api-token`. A failed authentication is answered 401 and reported to
 * `onAuthFailure` (the audit log), and changes nothing.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CairnError, ValidationError } from '../lib/index.js';
import { errorBody, statusFor } from './api-errors.js';

export type Handler = (req: ApiRequest) => Promise<unknown> | unknown;

export interface ApiRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
}

interface RouteEntry {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
  /** Plain text (Prometheus) instead of JSON. */
  text?: boolean;
}

const MAX_BODY_BYTES = 1 << 20;

export class ApiServer {
  private readonly routes: RouteEntry[] = [];
  private server: Server | undefined;

  constructor(
    private readonly token: string,
    private readonly onAuthFailure: (info: {
      method: string;
      path: string;
      remote: string;
    }) => void = () => {},
  ) {}

  /** Registers `METHOD /path/:param` → handler. */
  on(method: string, path: string, handler: Handler, options: { text?: boolean } = {}): this {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/:([a-z]+)/gi, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      })}$`,
    );
    this.routes.push({ method, pattern, names, handler, ...options });
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

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    const expected = Buffer.from(this.token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    try {
      if (url.pathname !== '/v1/health' && !this.authorized(req)) {
        this.onAuthFailure({ method, path: url.pathname, remote: req.socket.remoteAddress ?? '' });
        throw new CairnError('unauthorized', 'authenticating the request: missing or wrong bearer token', {
          hint: 'the CLI reads the token from .cairn/api-token',
        });
      }
      const route = this.routes.find((r) => r.method === method && r.pattern.test(url.pathname));
      if (!route) throw new CairnError('not_found', `no API endpoint ${method} ${url.pathname}`);
      const match = route.pattern.exec(url.pathname)!;
      const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]));
      const body = method === 'GET' ? {} : await readJson(req);
      const result = await route.handler({
        method,
        path: url.pathname,
        params,
        query: url.searchParams,
        body,
      });
      if (route.text) {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(String(result));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(result ?? {})}\n`);
      }
    } catch (error) {
      const status = error instanceof CairnError && error.code === 'not_found' ? 404 : statusFor(error);
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(errorBody(error))}\n`);
    }
  }
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
