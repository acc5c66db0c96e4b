/**
 * A real Kubernetes watch of one ConfigMap, with the pod's ServiceAccount: list (by name), then
 * `?watch=1&resourceVersion=…` from the list's version; reconnect with backoff, list again on
 * 410 Gone. The token is read again at every request: projected tokens rotate.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { ConfigMapLike } from './gateway-document.js';
import { backoffMs, LineBuffer, stepOf } from './watch-events.js';

/** The apiserver ends a watch after this many seconds (we reconnect from the last version). */
const WATCH_TIMEOUT_S = 300;
/** A watch that sends nothing (not even a bookmark) for this long is taken for dead. */
const SILENT_WATCH_MS = (WATCH_TIMEOUT_S + 30) * 1000;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_EVENT_BYTES = 8 * 1024 * 1024;
/** A watch that ends sooner than this is followed by a backoff, as a failure would be. */
const MIN_WATCH_MS = 1000;

export interface WatchTarget {
  apiserver: string;
  namespace: string;
  name: string;
  /** Folder of `token` and `ca.crt`. */
  serviceAccountDir: string;
}

export interface WatchHandlers {
  /** A version of the ConfigMap (from the list or the watch). */
  onObject(configMap: ConfigMapLike, resourceVersion: string): void | Promise<void>;
  /** The ConfigMap is gone (the pod keeps serving its last good version). */
  onDeleted(): void;
  log(fields: Record<string, unknown>): void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Watches `target` until `stop()`. */
export class ConfigMapWatch {
  private stopped = false;
  private current: { destroy(): void } | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly target: WatchTarget,
    private readonly handlers: WatchHandlers,
  ) {}

  /** Runs the list-then-watch loop in the background. */
  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.current?.destroy();
    this.wake?.();
  }

  private async loop(): Promise<void> {
    let resourceVersion: string | undefined;
    let attempt = 0;
    while (!this.stopped) {
      try {
        resourceVersion ??= await this.list();
        const startedMs = Date.now();
        resourceVersion = await this.watch(resourceVersion);
        // A watch the apiserver ends at once, again and again, must not become a busy loop.
        if (Date.now() - startedMs >= MIN_WATCH_MS) attempt = 0;
        else await this.sleep(backoffMs(attempt++));
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof HttpError && error.status === 410) resourceVersion = undefined;
        const delayMs = backoffMs(attempt++);
        this.handlers.log({
          level: 'warn',
          msg: 'watching the gateway ConfigMap',
          error: (error as Error).message,
          retryInMs: delayMs,
        });
        await this.sleep(delayMs);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private path(query: Record<string, string>): string {
    const { namespace, name } = this.target;
    const params = new URLSearchParams({ fieldSelector: `metadata.name=${name}`, ...query });
    return `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps?${params}`;
  }

  /** Lists the ConfigMap by name; hands its version over; returns the list's resourceVersion. */
  private async list(): Promise<string> {
    const body = await this.get(this.path({}));
    const list = JSON.parse(body) as { metadata?: { resourceVersion?: string }; items?: ConfigMapLike[] };
    const item = list.items?.[0];
    if (item) await this.handlers.onObject(item, item.metadata?.resourceVersion ?? '');
    else
      this.handlers.log({ level: 'warn', msg: 'the gateway ConfigMap does not exist yet', ...this.where() });
    return list.metadata?.resourceVersion ?? '';
  }

  private where() {
    return { namespace: this.target.namespace, configMap: this.target.name };
  }

  /** Follows one watch connection; resolves with the version to resume from, or undefined to list again. */
  private watch(from: string): Promise<string | undefined> {
    const query = {
      watch: '1',
      resourceVersion: from,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(WATCH_TIMEOUT_S),
    };
    return new Promise((resolve, reject) => {
      let resume: string | undefined = from;
      let applying = Promise.resolve();
      const req = this.open(this.path(query), SILENT_WATCH_MS, (res) => {
        if (res.statusCode !== 200) return failed(res, reject);
        const lines = new LineBuffer(MAX_EVENT_BYTES);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          let batch: string[];
          try {
            batch = lines.push(chunk);
          } catch (error) {
            req.destroy();
            return reject(error);
          }
          for (const line of batch) {
            const step = stepOf(line, this.target.name);
            if (!step) continue;
            if (step.kind === 'relist') {
              resume = undefined;
              req.destroy();
              return resolve(undefined);
            }
            if (step.kind === 'error') {
              req.destroy();
              return reject(new Error(step.message));
            }
            resume = step.resourceVersion || resume;
            if (step.kind === 'object') {
              const cm = step.configMap;
              applying = applying.then(() => this.handlers.onObject(cm, step.resourceVersion));
            } else if (step.kind === 'deleted') this.handlers.onDeleted();
          }
        });
        res.on('end', () => void applying.then(() => resolve(resume)));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  private get(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = this.open(path, REQUEST_TIMEOUT_MS, (res) => {
        if (res.statusCode !== 200) return failed(res, reject);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  /** One request with a freshly read token and CA; `idleMs` without a byte ends it. */
  private open(path: string, idleMs: number, onResponse: (res: import('node:http').IncomingMessage) => void) {
    const dir = this.target.serviceAccountDir;
    const token = readFileSync(join(dir, 'token'), 'utf8').trim();
    const ca = readFileSync(join(dir, 'ca.crt'));
    const url = apiUrl(this.target.apiserver, path);
    const req = request(
      url,
      { ca, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
      onResponse,
    );
    req.setTimeout(idleMs, () => req.destroy(new Error(`no answer from the apiserver in ${idleMs} ms`)));
    req.end();
    this.current = req;
    return req;
  }
}

/** `path` under the apiserver's URL, keeping its path prefix (`new URL(path, base)` would drop it). */
export function apiUrl(apiserver: string, path: string): URL {
  return new URL(`${apiserver.replace(/\/+$/, '')}${path}`);
}

/** Rejects with the apiserver's status and message (a Status object's `message` when there is one). */
function failed(res: import('node:http').IncomingMessage, reject: (e: Error) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {}
    const status = res.statusCode ?? 0;
    const hint =
      status === 401 || status === 403 ? ' (check the ServiceAccount cairn-gateway and its Role)' : '';
    reject(new HttpError(status, `the apiserver answered ${status}: ${message}${hint}`));
  });
  res.on('error', reject);
}
