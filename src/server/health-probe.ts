/**
 * One health probe of an instance: an HTTP GET of the health path (healthy when the status is at
 * most `maxStatus`, default 399) or, with `tcp: true`, a TCP connection that is accepted. A failed
 * probe says why in words a user can act on: the address, then "connection refused", the status,
 * or the timeout.
 */
import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls, type SecureContext } from 'node:tls';
import { type GatewayIdentity, loadBackendIdentity, tlsOptions } from '../gateway/index.js';
import type { HealthSpec } from '../spec/index.js';

/** The status ceiling when the spec sets none: 2xx and 3xx are healthy. */
export const DEFAULT_MAX_STATUS = 399;
/** Most bytes read looking for the final status line (interim 1xx answers and their headers count). */
const MAX_HEAD_BYTES = 16 * 1024;
/** Request lines kept ready, one per endpoint and path; more: all are built again. */
const REQUEST_CACHE_ENTRIES = 1024;
const HTTP1 = 'HTTP/1.';
const STATUS_LINE = /^HTTP\/1\.[01] ([1-9]\d\d)(?:[ \t][^\r\n]*)?\r?$/;
/** What a request target may hold as sent (visible ASCII): anything else would need escaping. */
const REQUEST_TARGET = /^[\x21-\x7e]+$/;

export interface ProbeResult {
  ok: boolean;
  /** Why it failed, e.g. `GET http://10.201.0.2:3000/healthz: connection refused`. */
  error?: string;
}

/** How to probe an instance that serves TLS with its SVID (`run.tls`): as its gateway would connect. */
export interface ProbeTls {
  /** The SPIFFE ID the instance's certificate must name. */
  spiffeId: string;
  /** The gateway's client SVID and the bundle. */
  client: GatewayIdentity;
}

type ProbeSpec = Pick<HealthSpec, 'path' | 'timeoutMs'> & Partial<Pick<HealthSpec, 'maxStatus' | 'tcp'>>;

/**
 * Probes `endpoint` (`host:port`) as `health` says; with `tls`, over TLS presenting the gateway's
 * SVID and accepting only the instance's own SPIFFE ID (a TCP probe then completes the handshake).
 */
export function probeHealth(endpoint: string, health: ProbeSpec, tls?: ProbeTls): Promise<ProbeResult> {
  return health.tcp && !tls ? probeTcp(endpoint, health.timeoutMs) : probeHttp(endpoint, health, tls);
}

/**
 * A GET on a new connection each time (that the instance accepts connections is part of what a
 * probe proves), judged by the status line alone: a probe runs once a second per instance, so it
 * sends one request built once and parses nothing else (no agent, no header or body parsing). The
 * rest of the answer is read and dropped until the instance closes the connection, as asked.
 */
function probeHttp(endpoint: string, health: ProbeSpec, tls: ProbeTls | undefined): Promise<ProbeResult> {
  const what = `GET ${tls ? 'https' : 'http'}://${endpoint}${health.path}`;
  const maxStatus = health.tcp ? Number.POSITIVE_INFINITY : (health.maxStatus ?? DEFAULT_MAX_STATUS);
  const request = requestFor(endpoint, health.path);
  if (!request)
    return Promise.resolve({
      ok: false,
      error: `${what}: the path has characters a request line cannot carry (escape them, e.g. %20 for a space)`,
    });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    let socket: Socket;
    try {
      socket = open(endpoint, tls);
    } catch (error) {
      settle({ ok: false, error: `${what}: ${describe(error as Error)}` });
      return;
    }
    const timer = setTimeout(() => socket.destroy(new TimeoutError(health.timeoutMs)), health.timeoutMs);
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (settled) return;
      head += chunk.toString('latin1');
      const status = finalStatus(head);
      if (status === undefined && head.length <= MAX_HEAD_BYTES) return;
      if (typeof status !== 'number') {
        settle({ ok: false, error: `${what}: the answer is not HTTP/1` });
        socket.destroy();
      } else settle(status <= maxStatus ? { ok: true } : { ok: false, error: `${what}: status ${status}` });
    });
    socket.on('end', () => {
      settle({ ok: false, error: `${what}: connection closed without an answer` });
      // The instance has closed its side: a reset ends ours in one packet (a FIN would be answered,
      // and would leave the instance's socket waiting in TIME_WAIT). A TLS socket closes as usual.
      if (!tls) socket.resetAndDestroy();
    });
    socket.on('error', (e) => settle({ ok: false, error: `${what}: ${describe(e)}` }));
    socket.on('close', () => clearTimeout(timer));
    socket.write(request);
  });
}

function open(endpoint: string, tls: ProbeTls | undefined): Socket {
  const [host, port] = splitEndpoint(endpoint);
  if (!tls) return connect({ host, port });
  return connectTls({
    ...tlsOptions({ host, port }, contextOf(tls.client), tls.spiffeId),
    // As an HTTPS client would: SNI only for a name, never for an address.
    ...(isIP(host) ? {} : { servername: host }),
  });
}

/**
 * The gateway's client SVID loaded once per identity (a renewal brings a new object), not parsed
 * again for every probe of every `run.tls` instance.
 */
const contexts = new WeakMap<GatewayIdentity, SecureContext>();
function contextOf(client: GatewayIdentity): SecureContext {
  let context = contexts.get(client);
  if (!context) {
    context = loadBackendIdentity(client).context;
    contexts.set(client, context);
  }
  return context;
}

const requests = new Map<string, Buffer | undefined>();

/** The request of a probe of `path` at `endpoint`, built once; undefined when the path cannot be sent as is. */
function requestFor(endpoint: string, path: string): Buffer | undefined {
  const key = `${endpoint} ${path}`;
  if (requests.has(key)) return requests.get(key);
  const request = REQUEST_TARGET.test(path)
    ? Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${endpoint}\r\nConnection: close\r\n\r\n`, 'latin1')
    : undefined;
  if (requests.size >= REQUEST_CACHE_ENTRIES) requests.clear();
  requests.set(key, request);
  return request;
}

/**
 * The status of the final answer that `head` (the first bytes an instance sent) begins with:
 * a number, `undefined` while more bytes are needed, `null` when it is not HTTP/1. Interim answers
 * (100 Continue, 103 Early Hints) are skipped with their headers, as an HTTP client does.
 */
export function finalStatus(head: string): number | null | undefined {
  let at = 0;
  for (;;) {
    if (!HTTP1.startsWith(head.slice(at, at + HTTP1.length))) return null;
    const eol = head.indexOf('\n', at);
    if (eol < 0) return undefined;
    const match = STATUS_LINE.exec(head.slice(at, eol));
    if (!match) return null;
    const status = Number(match[1]);
    if (status >= 200 || status === 101) return status;
    const blank = /\r?\n\r?\n/g;
    blank.lastIndex = eol - 1 > at ? eol - 1 : eol;
    const end = blank.exec(head);
    if (!end) return undefined;
    at = end.index + end[0].length;
  }
}

function probeTcp(endpoint: string, timeoutMs: number): Promise<ProbeResult> {
  const [host, port] = splitEndpoint(endpoint);
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ ok: true });
    });
    socket.once('timeout', () => socket.destroy(new TimeoutError(timeoutMs)));
    socket.once('error', (e) => resolve({ ok: false, error: `TCP connect ${endpoint}: ${describe(e)}` }));
  });
}

class TimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
  }
}

function describe(e: Error): string {
  if (e instanceof TimeoutError) return e.message;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused (nothing listens on that port)';
  if (code === 'ECONNRESET') return 'connection reset';
  if (code === 'EHOSTUNREACH') return 'host unreachable';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: ${e.message}`;
  if (code && /CERT|SELF_SIGNED|SSL|TLS/.test(code)) return `TLS: ${code.toLowerCase()} (${e.message})`;
  return code ? `${code.toLowerCase()}` : e.message;
}

function splitEndpoint(endpoint: string): [string, number] {
  const at = endpoint.lastIndexOf(':');
  return [endpoint.slice(0, at), Number(endpoint.slice(at + 1))];
}
