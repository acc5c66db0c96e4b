/**
 * Runbook: a canary at 20% gets about 20% of clients, and each client stays on its release.
 * Given a stable and a canary release behind the gateway at 80/20,
 * when 2,000 distinct clients (each keeping the cookie it was given) make three requests each,
 * then 15–25% of them land on the canary, none switches release, and raising the canary to 40%
 * moves only stable clients.
 */

import { Pool as HttpPool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGateway,
  type Gateway,
  type GatewayEngine,
  type Pool,
  SPLIT_POINTS,
  stickyPoint,
} from '../../src/gateway/index.js';
import { type EchoBackend, startEchoBackend } from '../../src/gateway/testing/echo-backend.js';

const CLIENTS = 2_000;
const CONCURRENCY = 32;

let stable: EchoBackend;
let canary: EchoBackend;

const pools = (canaryWeight: number): Pool[] => [
  {
    release: 'rel-stable',
    weight: 100 - canaryWeight,
    endpoints: [{ id: stable.id, address: stable.address }],
  },
  { release: 'rel-canary', weight: canaryWeight, endpoints: [{ id: canary.id, address: canary.address }] },
];

beforeAll(async () => {
  stable = await startEchoBackend('rel-stable', 'ins-s1');
  canary = await startEchoBackend('rel-canary', 'ins-c1');
});

afterAll(async () => {
  await Promise.all([stable?.kill(), canary?.kill()]);
});

interface Client {
  cookie?: string;
  releases: string[];
}

async function visit(http: HttpPool, client: Client, headers: Record<string, string> = {}): Promise<void> {
  const res = await http.request({
    path: '/page',
    method: 'GET',
    headers: { ...headers, ...(client.cookie && { cookie: client.cookie }) },
  });
  const setCookie = res.headers['set-cookie'];
  if (typeof setCookie === 'string') client.cookie = setCookie.split(';')[0];
  client.releases.push(String(res.headers['x-release']));
  await res.body.dump();
}

async function everyClient(http: HttpPool, clients: Client[], times: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < clients.length) {
      const c = clients[next++]!;
      for (let i = 0; i < times; i++) await visit(http, c);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const onCanary = (clients: Client[]) => clients.filter((c) => c.releases.at(-1) === 'rel-canary').length;

describe.each(['builtin', 'haproxy'] as GatewayEngine[])('gateway (%s engine): sticky canary', (engine) => {
  let gateway: Gateway;
  let http: HttpPool;

  beforeAll(async () => {
    gateway = createGateway({
      engine,
      listen: '127.0.0.1:0',
      routes: [{ host: '*', path: '/', service: 'web' }],
    });
    http = new HttpPool(`http://${await gateway.listen()}`, { connections: CONCURRENCY });
  });

  afterAll(async () => {
    await http?.close();
    await gateway?.close(1000);
  });

  it('puts 15–25% of 2,000 clients on a 20% canary and keeps each on its release', async () => {
    await gateway.setPools('web', pools(20));
    const clients: Client[] = Array.from({ length: CLIENTS }, () => ({ releases: [] }));
    await everyClient(http, clients, 3);

    expect(clients.every((c) => c.cookie?.startsWith('cairn-release='))).toBe(true);
    const switched = clients.filter((c) => new Set(c.releases).size !== 1);
    expect(switched).toEqual([]);
    const share = onCanary(clients) / CLIENTS;
    expect(share).toBeGreaterThanOrEqual(0.15);
    expect(share).toBeLessThanOrEqual(0.25);

    // When the canary goes from 20% to 40%, canary clients stay and only stable clients move.
    const wasCanary = new Set(clients.filter((c) => c.releases.at(-1) === 'rel-canary'));
    await gateway.setPools('web', pools(40));
    await everyClient(http, clients, 1);
    expect([...wasCanary].every((c) => c.releases.at(-1) === 'rel-canary')).toBe(true);
    expect(onCanary(clients) / CLIENTS).toBeGreaterThan(0.33);
    expect(onCanary(clients) / CLIENTS).toBeLessThan(0.47);
  }, 60_000);

  it('sets no cookie when one release takes all traffic', async () => {
    await gateway.setPools('web', pools(0));
    const res = await http.request({ path: '/', method: 'GET' });
    await res.body.dump();
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['x-release']).toBe('rel-stable');
  });

  it('pins a request with x-cairn-release, even to a release at weight 0', async () => {
    await gateway.setPools('web', pools(0));
    for (const [pin, expected] of [
      ['rel-canary', 'rel-canary'],
      ['canary', 'rel-canary'],
      ['stable', 'rel-stable'],
    ]) {
      const client: Client = { releases: [] };
      await visit(http, client, { 'x-cairn-release': pin! });
      expect(client.releases).toEqual([expected]);
    }
    const unknown = await http.request({
      path: '/',
      method: 'GET',
      headers: { 'x-cairn-release': 'rel-nope' },
    });
    expect(unknown.statusCode).toBe(503);
    expect(await unknown.body.json()).toEqual({ error: 'release rel-nope is not serving this service' });
  });

  it('ignores the pin header where the environment disables it, and can key stickiness on a header', async () => {
    const locked = createGateway({
      engine,
      listen: '127.0.0.1:0',
      routes: [{ host: '*', path: '/', service: 'web' }],
      pinHeader: false,
      stickyHeader: 'x-user',
    });
    const client = new HttpPool(`http://${await locked.listen()}`);
    await locked.setPools('web', pools(50));
    // A user whose key hashes into the stable half of a 50/50 split (the canary owns the bottom half).
    const user = Array.from({ length: 100 }, (_, i) => `user-${i}`).find(
      (u) => stickyPoint(u) >= SPLIT_POINTS / 2,
    )!;
    for (let i = 0; i < 10; i++) {
      const res = await client.request({
        path: '/',
        method: 'GET',
        headers: { 'x-cairn-release': 'rel-canary', 'x-user': user },
      });
      await res.body.dump();
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.headers['x-release']).toBe('rel-stable');
    }
    const users = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const res = await client.request({ path: '/', method: 'GET', headers: { 'x-user': `user-${i}` } });
      await res.body.dump();
      users.add(String(res.headers['x-release']));
    }
    expect(users).toEqual(new Set(['rel-stable', 'rel-canary']));
    await client.close();
    await locked.close(1000);
  });

  it('marks the cookie Secure when a trusted proxy in front says the client used https', async () => {
    const behindTls = createGateway({
      engine,
      listen: '127.0.0.1:0',
      routes: [{ host: '*', path: '/', service: 'web' }],
      trustForwarded: true,
    });
    const client = new HttpPool(`http://${await behindTls.listen()}`);
    await behindTls.setPools('web', pools(50));
    const cookieFor = async (headers: Record<string, string>) => {
      const res = await client.request({ path: '/', method: 'GET', headers });
      await res.body.dump();
      return String(res.headers['set-cookie']);
    };
    expect(await cookieFor({ 'x-forwarded-proto': 'https' })).toMatch(/; Secure$/);
    expect(await cookieFor({})).not.toMatch(/Secure/);
    await client.close();
    await behindTls.close(1000);
  });
});
