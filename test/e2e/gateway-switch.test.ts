/**
 * Runbook: switching traffic between releases under load loses no request.
 * Given two releases with two real backend processes each behind the gateway,
 * when weights flip 20 times during 20 s of load and one instance crashes half-way,
 * then no request fails and every answer comes from a release that had weight at the time.
 */

import { Pool as HttpPool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayEngine, type Pool } from '../../src/gateway/index.js';
import { type EchoBackend, startEchoBackend } from '../../src/gateway/testing/echo-backend.js';

const LOAD_MS = 20_000;
const FLIPS = 20;
const WORKERS = 16;

const backends: EchoBackend[] = [];

const endpoints = (release: string) =>
  backends.filter((b) => b.release === release).map((b) => ({ id: b.id, address: b.address }));
const pools = (weightA: number): Pool[] => [
  { release: 'rel-a', weight: weightA, endpoints: endpoints('rel-a') },
  { release: 'rel-b', weight: 100 - weightA, endpoints: endpoints('rel-b') },
];

/**
 * Weight of each release over time, so each answer can be checked against its own moment. A
 * change is in force from the call until the next change has been applied (the HAProxy engine
 * applies it through its runtime API, within a millisecond or so).
 */
class WeightHistory {
  private readonly changes: { atMs: number; appliedMs: number; weightA: number }[] = [];
  constructor(private readonly gateway: Gateway) {}
  async set(weightA: number): Promise<void> {
    const atMs = performance.now();
    await this.gateway.setPools('web', pools(weightA));
    this.changes.push({ atMs, appliedMs: performance.now(), weightA });
  }
  /** True if `release` had weight > 0 at some point in [fromMs, toMs]. */
  hadWeight(release: string, fromMs: number, toMs: number): boolean {
    const inForce = this.changes.filter((c, i) => {
      const next = this.changes[i + 1];
      return c.atMs <= toMs && (!next || next.appliedMs >= fromMs);
    });
    return inForce.some((c) => (release === 'rel-a' ? c.weightA > 0 : c.weightA < 100));
  }
}

interface Outcome {
  ok: number;
  failures: string[];
  wrongRelease: string[];
}

async function loadWorker(client: HttpPool, history: WeightHistory, untilMs: number, out: Outcome) {
  while (performance.now() < untilMs) {
    const startMs = performance.now();
    try {
      const res = await client.request({ path: '/work', method: 'GET' });
      const body = (await res.body.json()) as { release: string };
      const endMs = performance.now();
      if (res.statusCode !== 200) out.failures.push(`status ${res.statusCode}`);
      else if (!history.hadWeight(body.release, startMs, endMs)) out.wrongRelease.push(body.release);
      else out.ok++;
    } catch (err) {
      out.failures.push(String((err as Error).message));
    }
  }
}

describe.each(['builtin', 'haproxy'] as GatewayEngine[])(
  'gateway (%s engine): switching releases under load',
  (engine) => {
    let gateway: Gateway;
    let address: string;

    beforeAll(async () => {
      for (const [release, id] of [
        ['rel-a', 'ins-a1'],
        ['rel-a', 'ins-a2'],
        ['rel-b', 'ins-b1'],
        ['rel-b', 'ins-b2'],
      ] as const)
        backends.push(await startEchoBackend(release, id));
      gateway = createGateway({
        engine,
        listen: '127.0.0.1:0',
        routes: [{ host: '*', path: '/', service: 'web' }],
      });
      address = await gateway.listen();
    });

    afterAll(async () => {
      await gateway?.close(1000);
      await Promise.all(backends.map((b) => b.kill()));
      backends.length = 0;
    });

    it('loses no request across 20 weight flips and a crashed instance', async () => {
      const history = new WeightHistory(gateway);
      await history.set(100);
      const client = new HttpPool(`http://${address}`, { connections: WORKERS });
      const out: Outcome = { ok: 0, failures: [], wrongRelease: [] };
      const untilMs = performance.now() + LOAD_MS;
      const load = Promise.all(
        Array.from({ length: WORKERS }, () => loadWorker(client, history, untilMs, out)),
      );
      const plan = [0, 100, 30, 70, 0];
      for (let i = 1; i <= FLIPS; i++) {
        await new Promise((r) => setTimeout(r, LOAD_MS / (FLIPS + 1)));
        await history.set(plan[i % plan.length]!);
        if (i === FLIPS / 2) await backends.find((b) => b.id === 'ins-b1')!.kill();
      }
      await load;
      await client.close();

      expect(out.failures).toEqual([]);
      expect(out.wrongRelease).toEqual([]);
      expect(out.ok).toBeGreaterThan(2_000);
      const a = gateway.metrics('web', 'rel-a', 60_000);
      const b = gateway.metrics('web', 'rel-b', 60_000);
      expect(a.errors + b.errors).toBe(0);
      await expect
        .poll(
          () =>
            gateway.metrics('web', 'rel-a', 60_000).requests +
            gateway.metrics('web', 'rel-b', 60_000).requests,
        )
        .toBe(out.ok);
    }, 60_000);

    it('lets in-flight requests finish on a removed endpoint before drain resolves', async () => {
      const a1 = backends.find((b) => b.id === 'ins-a1')!;
      await gateway.setPools('web', [
        { release: 'rel-a', weight: 100, endpoints: [{ id: a1.id, address: a1.address }] },
      ]);
      const client = new HttpPool(`http://${address}`, { connections: 4 });
      const slow = Array.from({ length: 4 }, () => client.request({ path: '/slow?ms=1000', method: 'GET' }));
      await new Promise((r) => setTimeout(r, 200));
      const a2 = backends.find((b) => b.id === 'ins-a2')!;
      await gateway.setPools('web', [
        { release: 'rel-a', weight: 100, endpoints: [{ id: a2.id, address: a2.address }] },
      ]);
      const drainStart = performance.now();
      await gateway.drain(a1.id, 10_000);
      const drainedAfterMs = performance.now() - drainStart;
      const answers = await Promise.all(slow);
      const bodies = await Promise.all(answers.map((r) => r.body.json() as Promise<{ instance: string }>));

      expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
      expect(bodies.map((b) => b.instance)).toEqual(['ins-a1', 'ins-a1', 'ins-a1', 'ins-a1']);
      expect(drainedAfterMs).toBeGreaterThan(500);
      const after = await client.request({ path: '/after', method: 'GET' });
      expect(((await after.body.json()) as { instance: string }).instance).toBe('ins-a2');
      await client.close();
    });
  },
);
