/**
 * The control plane's event stream (Server-Sent Events, `GET /v1/events`): once a second it
 * takes one snapshot — every service's status, drift, the audit size, and a metrics sample of each
 * rollout in progress — serialises it once and writes the same bytes to every connected page. A
 * snapshot equal to the last one is not sent (a comment keeps idle connections alive instead).
 * Samples of running rollouts are kept whether or not anyone watches, so a page opened mid-canary
 * gets the series so far in its first message. A client that stops reading is dropped.
 */
import type { ServerResponse } from 'node:http';
import type { RolloutSample } from './views.js';

export type { RolloutSample } from './views.js';

export interface EventSource {
  /** The status part of a snapshot (services, drift, audit size): plain JSON data. */
  state(): Record<string, unknown>;
  /** A sample of every rollout in progress, by deployment id. */
  sampleRollouts(now: number): Map<string, RolloutSample>;
}

const MAX_SAMPLES = 900;
const KEEP_FINISHED_MS = 10 * 60_000;
const HEARTBEAT_MS = 15_000;
const AUTH_CHECK_MS = 5_000;
/** Bytes a client may leave unread before it is dropped. */
const MAX_BACKLOG = 4 << 20;

export class EventHub {
  /** Each open stream, with the check that its caller may still read (session live, token not revoked). */
  private readonly clients = new Map<ServerResponse, () => boolean>();
  private lastAuthCheck = 0;
  private readonly series = new Map<string, { samples: RolloutSample[]; lastAt: number }>();
  private lastState = '';
  private lastSentAt = 0;
  private seq = 0;

  constructor(
    private readonly source: EventSource,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /**
   * Ends the streams whose session ended or whose token was revoked (checked every few seconds):
   * an open stream is no way around a logout. The page reconnects, gets 401, and shows the login.
   */
  private dropUnauthorized(): void {
    const t = this.now();
    if (t - this.lastAuthCheck < AUTH_CHECK_MS) return;
    this.lastAuthCheck = t;
    for (const [res, ok] of this.clients) {
      if (ok()) continue;
      res.end();
      this.clients.delete(res);
    }
  }

  /** Takes this second's samples, and sends a snapshot to every page if anything changed. */
  tick(): void {
    const t = this.now();
    for (const [id, sample] of this.source.sampleRollouts(t)) {
      const entry = this.series.get(id) ?? { samples: [], lastAt: t };
      entry.samples.push(sample);
      if (entry.samples.length > MAX_SAMPLES) entry.samples.shift();
      entry.lastAt = t;
      this.series.set(id, entry);
    }
    for (const [id, entry] of this.series) if (t - entry.lastAt > KEEP_FINISHED_MS) this.series.delete(id);
    if (this.clients.size === 0) return;
    this.dropUnauthorized();
    const state = JSON.stringify(this.source.state());
    const latest = Object.fromEntries(
      [...this.series].filter(([, e]) => e.lastAt === t).map(([id, e]) => [id, e.samples.at(-1)]),
    );
    const changed = state !== this.lastState || Object.keys(latest).length > 0;
    if (changed) {
      this.lastState = state;
      this.broadcast(
        `id: ${++this.seq}\nevent: snapshot\ndata: {"time":${t},"state":${state},"samples":${JSON.stringify(latest)}}\n\n`,
      );
    } else if (t - this.lastSentAt >= HEARTBEAT_MS) {
      this.broadcast(': keep-alive\n\n');
    }
  }

  /** Takes over the response: headers, the full state and every series so far, then every change. */
  subscribe(res: ServerResponse, stillAuthorized: () => boolean = () => true): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const series = Object.fromEntries([...this.series].map(([id, e]) => [id, e.samples]));
    const state = JSON.stringify(this.source.state());
    res.write(
      `retry: 2000\nid: ${this.seq}\nevent: hello\ndata: {"time":${this.now()},"state":${state},"series":${JSON.stringify(series)}}\n\n`,
    );
    this.clients.set(res, stillAuthorized);
    res.on('close', () => this.clients.delete(res));
  }

  /** Ends every stream (the control plane is stopping; pages reconnect by themselves). */
  close(): void {
    for (const res of this.clients.keys()) res.end();
    this.clients.clear();
  }

  private broadcast(text: string): void {
    this.lastSentAt = this.now();
    for (const res of this.clients.keys()) {
      if (res.writableLength > MAX_BACKLOG) {
        res.destroy();
        this.clients.delete(res);
        continue;
      }
      res.write(text);
    }
  }
}
