import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../listen-address.js';
import { answerAdmin } from './admin-server.js';
import { GatewayPod } from './gateway-pod.js';

/** A backend answering its name; `/slow` answers after 300 ms. */
function backend(name: string): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    const answer = () => res.end(name);
    if (req.url === '/slow') setTimeout(answer, 300);
    else answer();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

function get(address: string, path = '/'): Promise<{ status: number; body: string }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const configMap = (version: number, endpoint: { id: string; address: string }) => ({
  metadata: { name: 'cairn-gateway' },
  data: {
    'gateway.json': JSON.stringify({
      version,
      config: {
        engine: 'builtin',
        listen: 'ignored:1',
        routes: [{ host: '*', path: '/', service: 'hello' }],
      },
      pools: { hello: [{ release: `r${version}`, weight: 100, endpoints: [endpoint] }] },
    }),
  },
});

describe('the gateway pod applies each version of its ConfigMap', () => {
  const logs: Record<string, unknown>[] = [];
  let a: { server: Server; address: string };
  let b: { server: Server; address: string };
  let listen: string;
  let pod: GatewayPod;

  beforeAll(async () => {
    [a, b] = await Promise.all([backend('A'), backend('B')]);
    listen = `127.0.0.1:${await freePort()}`;
    pod = new GatewayPod({
      listen,
      log: (l) => logs.push(l),
      onListenFailed: (e) => {
        throw e;
      },
    });
  });
  afterAll(async () => {
    await pod.stop(1000);
    a.server.close();
    b.server.close();
  });

  it('is not ready, and does not listen, before the first version', async () => {
    expect(answerAdmin(pod, 'GET', '/healthz').status).toBe(503);
    // Alive all the same: the kubelet must not restart a pod that waits for its ConfigMap.
    expect(answerAdmin(pod, 'GET', '/livez').status).toBe(200);
    await expect(get(listen)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('serves the first version once applied, and says its version', async () => {
    await pod.offer(configMap(1, { id: 'pod-a', address: a.address }), '100');
    expect(answerAdmin(pod, 'GET', '/healthz').status).toBe(200);
    expect(await get(listen)).toEqual({ status: 200, body: 'A' });
    expect(JSON.parse(answerAdmin(pod, 'GET', '/_cairn/status').body)).toMatchObject({ version: 1 });
  });

  it('refuses a bad version with one log line and keeps serving the last good one', async () => {
    await pod.offer(
      { metadata: { name: 'cairn-gateway' }, data: { 'gateway.json': '{"version": 2,' } },
      '101',
    );
    expect(await get(listen)).toEqual({ status: 200, body: 'A' });
    expect(logs.at(-1)).toMatchObject({ level: 'error', resourceVersion: '101', servingVersion: 1 });
    expect(JSON.parse(answerAdmin(pod, 'GET', '/_cairn/status').body).version).toBe(1);
  });

  it('a version the gateway cannot apply is logged, and the next one is applied whole', async () => {
    const broken = configMap(2, { id: 'pod-b', address: b.address });
    const doc = JSON.parse(broken.data['gateway.json']);
    doc.config.routes[0].auth = { jwks: { keys: 5 } };
    await pod.offer({ ...broken, data: { 'gateway.json': JSON.stringify(doc) } }, '101b');
    expect(logs.at(-1)).toMatchObject({ level: 'error', resourceVersion: '101b' });
    expect(JSON.parse(answerAdmin(pod, 'GET', '/_cairn/status').body).version).toBe(1);
  });

  it('moves traffic to the pools of a new version; in-flight requests show per endpoint and finish', async () => {
    const slow = get(listen, '/slow');
    await new Promise((r) => setTimeout(r, 100));
    expect(JSON.parse(answerAdmin(pod, 'GET', '/_cairn/status').body).inflight).toEqual({ 'pod-a': 1 });
    await pod.offer(configMap(3, { id: 'pod-b', address: b.address }), '102');
    expect(await get(listen)).toEqual({ status: 200, body: 'B' });
    expect(await slow).toEqual({ status: 200, body: 'A' });
    expect(JSON.parse(answerAdmin(pod, 'GET', '/_cairn/status').body)).toMatchObject({ version: 3 });
  });

  it('exports the window metrics and Prometheus text of what it served', () => {
    const exported = JSON.parse(answerAdmin(pod, 'GET', '/_cairn/metrics?since=0').body);
    expect(exported.slots.some((s: { release: string }) => s.release === 'r3')).toBe(true);
    expect(answerAdmin(pod, 'GET', '/metrics').body).toMatch(
      /cairn_gateway_requests_total\{.*release="r1".*\} \d+/,
    );
    expect(answerAdmin(pod, 'GET', '/_cairn/metrics?since=soon').status).toBe(400);
  });
});
