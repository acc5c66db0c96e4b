/**
 * The Kubernetes watch protocol as the gateway pod follows it, without I/O: what one event line of
 * `?watch=1` means for the ConfigMap it watches, and how long to wait before reconnecting.
 */
import type { ConfigMapLike } from './gateway-document.js';

/** First reconnect delay; it doubles per failed attempt up to `MAX_BACKOFF_MS`. */
export const FIRST_BACKOFF_MS = 250;
export const MAX_BACKOFF_MS = 10_000;

/** What a watch event asks of the pod. */
export type WatchStep =
  /** A version of the ConfigMap to apply (added or modified). */
  | { kind: 'object'; configMap: ConfigMapLike; resourceVersion: string }
  /** The ConfigMap was deleted: keep serving the last good version. */
  | { kind: 'deleted'; resourceVersion: string }
  /** Nothing changed; resume from this resourceVersion next time. */
  | { kind: 'bookmark'; resourceVersion: string }
  /** The resourceVersion is too old (410 Gone): list again. */
  | { kind: 'relist' }
  /** Something else went wrong on this watch: reconnect after a backoff. */
  | { kind: 'error'; message: string };

interface RawEvent {
  type?: unknown;
  object?: { metadata?: { name?: string; resourceVersion?: string }; code?: number; message?: string };
}

/** The step one line of a watch stream stands for; `name` is the ConfigMap watched. */
export function stepOf(line: string, name: string): WatchStep | undefined {
  let event: RawEvent;
  try {
    event = JSON.parse(line) as RawEvent;
  } catch {
    return { kind: 'error', message: 'the watch sent a line that is not JSON' };
  }
  const object = event.object ?? {};
  const resourceVersion = object.metadata?.resourceVersion ?? '';
  switch (event.type) {
    case 'ADDED':
    case 'MODIFIED':
      if (object.metadata?.name !== name) return undefined;
      return { kind: 'object', configMap: object as ConfigMapLike, resourceVersion };
    case 'DELETED':
      return object.metadata?.name === name ? { kind: 'deleted', resourceVersion } : undefined;
    case 'BOOKMARK':
      return { kind: 'bookmark', resourceVersion };
    case 'ERROR':
      if (object.code === 410) return { kind: 'relist' };
      return {
        kind: 'error',
        message: `the watch ended with ${object.code ?? '?'}: ${object.message ?? ''}`,
      };
    default:
      return { kind: 'error', message: `the watch sent an event of type ${JSON.stringify(event.type)}` };
  }
}

/** The delay before reconnect attempt `attempt` (0-based): doubling, capped, with up to 20% jitter from `random`. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(attempt, 16));
  return Math.round(base * (1 - 0.2 * random()));
}

/** Splits a chunked stream into lines; returns the lines complete so far and keeps the rest. */
export class LineBuffer {
  private rest = '';

  constructor(private readonly maxBytes: number) {}

  /** The complete lines in `chunk` (with what was kept); throws when one line grows past `maxBytes`. */
  push(chunk: string): string[] {
    this.rest += chunk;
    const parts = this.rest.split('\n');
    this.rest = parts.pop()!;
    if (this.rest.length > this.maxBytes)
      throw new Error(`a watch event is longer than ${this.maxBytes} bytes`);
    return parts.filter((l) => l.trim() !== '');
  }
}
