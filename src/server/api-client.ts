/** How commands reach `cairn up`: the address in `.cairn/api.json` and the token in `.cairn/api-token`. */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { CairnError } from '../lib/index.js';
import type { Workspace } from '../state/index.js';
import { type ErrorBody, errorFromBody } from './api-errors.js';

export const API_FILE = 'api.json';
/** A read (status, ps, history) that takes longer than this has a stuck control plane behind it. */
export const READ_TIMEOUT_MS = 15_000;
/** A change (deploy, promote) runs the gates first: scans and policies may take a while. */
export const CHANGE_TIMEOUT_MS = 120_000;

/** How long a call may take, connect to last byte (`deploy --wait` polls with reads, each under the read timeout). */
export interface ApiTimeouts {
  readMs: number;
  changeMs: number;
}

export interface ApiInfo {
  url: string;
  /** The dashboard's URL, when it runs. */
  ui?: string;
  pid: number;
  startedAt: string;
}

export function readApiInfo(ws: Workspace): ApiInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(ws.root, API_FILE), 'utf8')) as ApiInfo;
  } catch {
    return undefined;
  }
}

export class ApiClient {
  constructor(
    readonly url: string,
    private readonly token: string,
    private readonly timeouts: ApiTimeouts = { readMs: READ_TIMEOUT_MS, changeMs: CHANGE_TIMEOUT_MS },
  ) {}

  static forWorkspace(ws: Workspace): ApiClient {
    const info = readApiInfo(ws);
    if (!info) {
      throw new CairnError(
        'not_running',
        'reaching the control plane: `cairn up` is not running for this workspace',
        {
          hint: 'start it with `cairn up --detach`',
        },
      );
    }
    let token: string;
    try {
      token = readFileSync(ws.tokenFile, 'utf8').trim();
    } catch {
      throw new CairnError('unauthorized', `reading the API token: ${ws.tokenFile} is missing`, {
        hint: 'run `cairn init`',
      });
    }
    return new ApiClient(info.url, token);
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const timeoutMs = method === 'GET' ? this.timeouts.readMs : this.timeouts.changeMs;
    const send = () => exchange(new URL(`${this.url}${path}`), method, this.token, body, timeoutMs);
    let answer: { status: number; text: string };
    try {
      // A kept-alive connection the server just closed fails at once; a read is safe to send again.
      answer = await send().catch((error: unknown) =>
        method === 'GET' && !(error instanceof TimeoutError) ? send() : Promise.reject(error),
      );
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw new CairnError(
          'timeout',
          `reaching the control plane at ${this.url}: no answer within ${timeoutMs / 1000}s`,
          {
            hint: 'it accepted the connection but did not answer; see .cairn/logs/control-plane.log, then `cairn down` and `cairn up --detach`',
          },
        );
      }
      throw new CairnError(
        'not_running',
        `reaching the control plane at ${this.url}: ${(error as Error).message}`,
        {
          hint: 'is `cairn up` running? start it with `cairn up --detach`',
          cause: error,
        },
      );
    }
    const parsed = answer.text ? (JSON.parse(answer.text) as unknown) : {};
    if (answer.status < 200 || answer.status >= 300) throw errorFromBody(parsed as ErrorBody);
    return parsed as T;
  }
}

class TimeoutError extends Error {}

/**
 * One request with node:http, whose whole exchange (connect to last byte) must end within
 * `timeoutMs`. Not fetch: Node loads its HTTP client bundle on the first fetch, which a one-shot
 * CLI verb would pay at every start.
 */
function exchange(
  url: URL,
  method: string,
  token: string,
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    // The API listens on plain HTTP on loopback only (the dashboard alone may serve HTTPS).
    const req = httpRequest(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(payload === undefined ? {} : { 'content-length': Buffer.byteLength(payload) }),
      },
    });
    const timer = setTimeout(() => req.destroy(new TimeoutError('timed out')), timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(payload);
  });
}
