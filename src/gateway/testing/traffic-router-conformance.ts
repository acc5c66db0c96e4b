/**
 * The behaviour every `TrafficRouter` must show, as a vitest suite any implementation runs
 * (the built-in gateway now; an HAProxy or Kubernetes Gateway API router later). Test support only.
 */
import { Pool as HttpPool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrafficRouter } from '../types.js';
import { type EchoBackend, startEchoBackend } from './echo-backend.js';

/** A running router that sends every request for host `conformance.test` to service `web`. */
export interface RouterUnderTest {
  router: TrafficRouter;
  /** `host:port` clients connect to. */
  address: string;
  close(): Promise<void>;
}

async function releasesOf(http: HttpPool, n: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await http.request({ path: '/', method: 'GET', headers: { host: 'conformance.test' } });
    await res.body.dump();
    seen.push(String(res.headers['x-release']));
  }
  return seen;
}

/** Registers the conformance tests for one implementation. */
export function describeTrafficRouter(name: string, start: () => Promise<RouterUnderTest>): void {
  describe(`TrafficRouter conformance: ${name}`, () => {
    let under: RouterUnderTest;
    let http: HttpPool;
    let a: EchoBackend;
    let b: EchoBackend;
    const pools = (weightA: number) => [
      { release: 'rel-a', weight: weightA, endpoints: [{ id: a.id, address: a.address }] },
      { release: 'rel-b', weight: 100 - weightA, endpoints: [{ id: b.id, address: b.address }] },
    ];

    beforeAll(async () => {
      a = await startEchoBackend('rel-a', 'ins-conf-a');
      b = await startEchoBackend('rel-b', 'ins-conf-b');
      under = await start();
      http = new HttpPool(`http://${under.address}`);
    });

    afterAll(async () => {
      await http?.close();
      await under?.close();
      await Promise.all([a?.kill(), b?.kill()]);
    });

    it('has a kind', () => {
      expect(under.router.kind).toMatch(/^[a-z][a-z0-9-]*$/);
    });

    it('sends all traffic to the release with weight 100 and none to weight 0', async () => {
      await under.router.setPools('web', pools(100));
      expect(new Set(await releasesOf(http, 20))).toEqual(new Set(['rel-a']));
      await under.router.setPools('web', pools(0));
      expect(new Set(await releasesOf(http, 20))).toEqual(new Set(['rel-b']));
    });

    it('splits new clients between releases by weight', async () => {
      await under.router.setPools('web', pools(50));
      const seen = await releasesOf(http, 200);
      const share = seen.filter((r) => r === 'rel-a').length / seen.length;
      expect(share).toBeGreaterThan(0.3);
      expect(share).toBeLessThan(0.7);
    });

    it('resolves drain only after the in-flight requests of the endpoint finish', async () => {
      await under.router.setPools('web', pools(100));
      const slow = http.request({ path: '/?ms=600', method: 'GET', headers: { host: 'conformance.test' } });
      await new Promise((r) => setTimeout(r, 150));
      await under.router.setPools('web', pools(0));
      const started = Date.now();
      await under.router.drain(a.id, 5_000);
      expect(Date.now() - started).toBeGreaterThan(250);
      const res = await slow;
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-release']).toBe('rel-a');
      await res.body.dump();
    });

    it('reports requests per release for a time window', async () => {
      await under.router.setPools('web', pools(0));
      const before = under.router.metrics('web', 'rel-b', 60_000).requests;
      await releasesOf(http, 10);
      // An out-of-process data plane reports a request moments after answering it.
      await expect.poll(() => under.router.metrics('web', 'rel-b', 60_000).requests - before).toBe(10);
      const after = under.router.metrics('web', 'rel-b', 60_000);
      expect(after.statusClasses['2xx']).toBeGreaterThanOrEqual(10);
      expect(after.errorRate).toBe(0);
    });
  });
}
