/**
 * One health probe of an instance: an HTTP GET of the health path (healthy when the status is at
 * most `maxStatus`, default 399) or, with `tcp: true`, a TCP connection that is accepted. A failed
 * probe says why in words a user can act on: the address, then "connection refused", the status,
 * or the timeout.
 */
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { type GatewayIdentity, spiffeClientOptions } from '../gateway/index.js';
import type { HealthSpec } from '../spec/index.js';

/** The status ceiling when the spec sets none: 2xx and 3xx are healthy. */
export const DEFAULT_MAX_STATUS = 399;

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

function probeHttp(endpoint: string, health: ProbeSpec, tls: ProbeTls | undefined): Promise<ProbeResult> {
  const [host, port] = splitEndpoint(endpoint);
  const what = `GET ${tls ? 'https' : 'http'}://${endpoint}${health.path}`;
  const maxStatus = health.tcp ? Number.POSITIVE_INFINITY : (health.maxStatus ?? DEFAULT_MAX_STATUS);
  const options = { host, port, path: health.path, method: 'GET', timeout: health.timeoutMs, agent: false };
  return new Promise((resolve) => {
    const send = tls ? httpsRequest : request;
    const req = send(
      tls
        ? {
            ...options,
            ...spiffeClientOptions(tls.client, tls.client.bundlePem, tls.spiffeId),
          }
        : options,
      (res) => {
        res.resume();
        const status = res.statusCode ?? 500;
        resolve(status <= maxStatus ? { ok: true } : { ok: false, error: `${what}: status ${status}` });
      },
    );
    req.on('timeout', () => req.destroy(new TimeoutError(health.timeoutMs)));
    req.on('error', (e) => resolve({ ok: false, error: `${what}: ${describe(e)}` }));
    req.end();
  });
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
