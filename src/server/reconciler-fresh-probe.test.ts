import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pool, TrafficRouter } from '../gateway/index.js';
import { createSqliteStateStore, type InstanceRecord, type SqliteStateStore } from '../state/index.js';
import type { InstanceManager } from './instance-manager.js';
import { Reconciler } from './reconciler.js';

const HEALTH = {
  path: '/healthz',
  intervalMs: 10_000,
  timeoutMs: 500,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
  startPeriodMs: 30_000,
};

let dir: string;
let store: SqliteStateStore;
let server: Server;
let answering = false;
let reconciler: Reconciler;
const pools: Pool[][] = [];

/** Starts "instances" whose endpoint is a local HTTP server, writing their records as the manager does. */
function fakeInstances(endpoint: string): InstanceManager {
  let n = 0;
  const write = (i: InstanceRecord) => {
    store.transaction((tx) => tx.putInstance(i));
    return i;
  };
  return {
    start: async (release: { id: string; service: string }, env: string) =>
      write({
        id: `ins-${n++}`,
        releaseId: release.id,
        service: release.service,
        env,
        driver: 'process',
        state: 'starting',
        endpoint,
        handle: {},
        identity: {},
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
      }),
    mark: (i: InstanceRecord, state: InstanceRecord['state'], reason: string) =>
      write({ ...i, state, reason }),
    isRunning: async () => true,
  } as unknown as InstanceManager;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-reconciler-'));
  store = createSqliteStateStore({ path: join(dir, 'state.db') });
  server = createServer((_req, res) => res.writeHead(answering ? 200 : 503).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const now = new Date().toISOString();
  store.putRelease({
    id: 'rel-1',
    service: 'hello',
    imageDigest: `sha256:${'a'.repeat(64)}`,
    configDigest: `sha256:${'b'.repeat(64)}`,
    config: { run: { port: 8080, health: HEALTH } },
    createdAt: now,
  });
  store.setServing({
    env: 'dev',
    service: 'hello',
    replicas: { 'rel-1': 1 },
    weights: [{ release: 'rel-1', weight: 100 }],
    updatedAt: now,
  });
  const router = {
    setPools: async (_route: string, p: Pool[]) => void pools.push(p),
  } as unknown as TrafficRouter;
  reconciler = new Reconciler({ store, instances: fakeInstances(endpoint), router: () => router });
});

afterEach(async () => {
  await reconciler.idle();
  server.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  answering = false;
  pools.length = 0;
});

describe('a just-started instance', () => {
  it('takes traffic as soon as it answers its health check, not at the next health interval', async () => {
    // Given an instance that starts but does not answer yet (no supervision pass runs in this test)
    await reconciler.request('dev', 'hello');
    const [started] = store.listInstances({ env: 'dev', service: 'hello', live: true });
    await sleep(200);
    expect(store.getInstance(started!.id)?.state).toBe('starting');
    expect(pools.at(-1)?.[0]?.endpoints).toEqual([]);

    // When it starts answering
    answering = true;
    const since = Date.now();
    while (store.getInstance(started!.id)?.state !== 'healthy' && Date.now() - since < 2000) await sleep(5);

    // Then it is healthy and in the gateway's pool within a few probes (the interval is 10 s)
    expect(store.getInstance(started!.id)?.state).toBe('healthy');
    expect(Date.now() - since).toBeLessThan(500);
    expect(pools.at(-1)?.[0]?.endpoints.map((e) => e.id)).toEqual([started!.id]);
  });
});
