import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EventHub, type RolloutSample } from './event-hub.js';

/** A response stand-in that records what was written (the hub writes headers, then text). */
function client() {
  const stream = new PassThrough();
  const res = Object.assign(stream, {
    writeHead: () => res,
    socket: null,
    written: [] as string[],
  });
  const write = stream.write.bind(stream);
  res.write = ((chunk: string) => {
    res.written.push(chunk);
    return write(chunk);
  }) as typeof stream.write;
  stream.resume();
  return res as unknown as ServerResponse & { written: string[] };
}

describe('the event hub', () => {
  it('sends one snapshot to every client, only when something changed, and series so far on connect', () => {
    let t = 1000;
    let state = { services: 1 };
    let rollouts = new Map<string, RolloutSample>();
    const hub = new EventHub({ state: () => state, sampleRollouts: () => rollouts }, () => t);
    const sample = (w: number): RolloutSample => ({
      t,
      step: 0,
      phase: 'progressing',
      releases: { 'rel-b': { weight: w, rps: 1, errorRate: 0, p99Ms: 2 } },
    });
    rollouts = new Map([['dep-1', sample(20)]]);
    hub.tick(); // nobody listens: the sample is kept anyway
    const a = client();
    const b = client();
    hub.subscribe(a);
    hub.subscribe(b);
    expect(a.written[0]).toContain('event: hello');
    expect(a.written[0]).toContain('"dep-1":[{"t":1000');
    t += 1000;
    rollouts = new Map([['dep-1', sample(50)]]);
    hub.tick(); // a new sample: one snapshot, the same bytes to both
    expect(a.written).toHaveLength(2);
    expect(a.written[1]).toBe(b.written[1]);
    expect(a.written[1]).toContain('event: snapshot');
    expect(a.written[1]).toContain('"weight":50');
    t += 1000;
    rollouts = new Map();
    hub.tick(); // same state, no rollout sample: nothing to send
    expect(a.written).toHaveLength(2);
    state = { services: 2 };
    t += 1000;
    hub.tick();
    expect(a.written).toHaveLength(3);
    expect(a.written[2]).toContain('"state":{"services":2}');
    t += 20_000;
    hub.tick(); // idle for 15 s and more: a comment keeps the stream open
    expect(a.written[3]).toBe(': keep-alive\n\n');
    hub.close();
    expect(hub.size).toBe(0);
  });

  it('ends the stream of a caller whose session ended or token was revoked, within 5 s', () => {
    let t = 0;
    let allowed = true;
    const hub = new EventHub({ state: () => ({ at: t }), sampleRollouts: () => new Map() }, () => t);
    const page = client();
    hub.subscribe(page, () => allowed);
    t += 6000;
    hub.tick();
    expect(hub.size).toBe(1);
    allowed = false;
    t += 1000;
    hub.tick(); // checked at most every 5 s
    expect(hub.size).toBe(1);
    t += 5000;
    hub.tick();
    expect(hub.size).toBe(0);
    expect(page.writableEnded).toBe(true);
  });

  it('drops a client that stopped reading', () => {
    let t = 0;
    const hub = new EventHub({ state: () => ({ at: t }), sampleRollouts: () => new Map() }, () => t);
    const slow = client();
    Object.defineProperty(slow, 'writableLength', { get: () => 5 << 20 });
    hub.subscribe(slow);
    t += 1000;
    hub.tick();
    expect(hub.size).toBe(0);
  });
});
