/** How commands reach `cairn up`: the address in `.cairn/api.json` and the token in `.cairn/api-token`. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CairnError } from '../lib/index.js';
import type { Workspace } from '../state/index.js';
import { type ErrorBody, errorFromBody } from './api-errors.js';

export const API_FILE = 'api.json';

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
    let res: Response;
    const send = () =>
      fetch(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    try {
      // A kept-alive connection the server just closed fails at once; a read is safe to send again.
      res = await send().catch((error: unknown) => (method === 'GET' ? send() : Promise.reject(error)));
    } catch (error) {
      throw new CairnError(
        'not_running',
        `reaching the control plane at ${this.url}: ${(error as Error).message}`,
        {
          hint: 'is `cairn up` running? start it with `cairn up --detach`',
          cause: error,
        },
      );
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : {};
    if (!res.ok) throw errorFromBody(parsed as ErrorBody);
    return parsed as T;
  }
}
