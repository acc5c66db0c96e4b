/**
 * One health probe of an instance: an HTTP GET of the health path (healthy when the status is at
 * most `maxStatus`, default 399) or, with `tcp: true`, a TCP connection that is accepted. A failed
 * probe says why in words a user can act on: the address, then "connection refused", the status,
 * or the timeout.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { HealthSpec } from '../spec/index.js';

/** The status ceiling when the spec sets none: 2xx and 3xx are healthy. */
export const DEFAULT_MAX_STATUS = 399;

export interface ProbeResult {
  ok: boolean;
  /** Why it failed, e.g. `GET http://10.201.0.2:3000/healthz: connection refused`. */
  error?: string;
}

type ProbeSpec = Pick<HealthSpec, 'path' | 'timeoutMs'> & Partial<Pick<HealthSpec, 'maxStatus' | 'tcp'>>;

/** Probes `endpoint` (`host:port`) as `health` says. */
export function probeHealth(endpoint: string, health: ProbeSpec): Promise<ProbeResult> {
  return health.tcp ? probeTcp(endpoint, health.timeoutMs) : probeHttp(endpoint, health);
}

function probeHttp(endpoint: string, health: ProbeSpec): Promise<ProbeResult> {
  const [host, port] = splitEndpoint(endpoint);
  const what = `GET http://${endpoint}${health.path}`;
  const maxStatus = health.maxStatus ?? DEFAULT_MAX_STATUS;
  return new Promise((resolve) => {
    const req = request(
      { host, port, path: health.path, method: 'GET', timeout: health.timeoutMs, agent: false },
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
  return code ? `${code.toLowerCase()}` : e.message;
}

function splitEndpoint(endpoint: string): [string, number] {
  const at = endpoint.lastIndexOf(':');
  return [endpoint.slice(0, at), Number(endpoint.slice(at + 1))];
}
