/**
 * The built-in gateway in front of backends that serve TLS with an SVID: real certificates of a
 * real workload CA, real sockets. The backend echoes the client certificate's URI SAN.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createWorkloadCa,
  issueGatewayCertificate,
  issueSvid,
  loadWorkloadCa,
  type Svid,
  type WorkloadCa,
} from '../identity/index.js';
import { createGateway } from './builtin-gateway.js';
import type { Gateway } from './types.js';

const TD = 'shop.cairn';
const ORDERS = `spiffe://${TD}/dev/orders`;
const dir = mkdtempSync(join(tmpdir(), 'cairn-gwtls-'));
const servers: Server[] = [];
let ca: WorkloadCa;
let gateway: Gateway;
let address: string;

const svid = (service: string, ca_: WorkloadCa, ttlMs = 60_000, now = new Date()) =>
  issueSvid(ca_, { trustDomain: TD, env: 'dev', service, release: 'rel-1', instance: 'ins-1' }, ttlMs, now);

/** An HTTPS backend serving `cert`, answering with the client certificate's URI SAN. */
async function backend(cert: Svid, bundlePem: string): Promise<string> {
  const server = createServer(
    { cert: cert.certPem, key: cert.keyPem, ca: bundlePem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.end(`${peer.subjectaltname} ${(req.socket as TLSSocket).remotePort}`);
    },
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

function get(): Promise<{ status: number; body: string }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path: '/', headers: { host: 'shop.test' } }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function routeTo(address_: string): Promise<void> {
  await gateway.setPools('orders', [
    {
      release: 'rel-1',
      weight: 100,
      endpoints: [{ id: `ins-${address_}`, address: address_ }],
      tls: { spiffeId: ORDERS },
    },
  ]);
}

beforeAll(async () => {
  await createWorkloadCa(join(dir, 'keys'));
  ca = await loadWorkloadCa(join(dir, 'keys'));
  gateway = createGateway({
    listen: '127.0.0.1:0',
    routes: [{ host: '*', path: '/', service: 'orders' }],
    limits: { firstByteTimeoutMs: 2_000 },
  });
  address = await gateway.listen();
});

afterAll(async () => {
  await gateway.close(0);
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the gateway in front of a backend that serves TLS with its SVID', () => {
  it('answers 502 until it has a client SVID of its own', async () => {
    await routeTo(await backend(await svid('orders', ca), ca.bundlePem));
    expect((await get()).status).toBe(502);
  });

  it('presents its SVID, reaches the pool’s service, and reuses the connection', async () => {
    const own = await issueGatewayCertificate(ca, TD, 'dev', 60_000);
    gateway.setIdentity({ ...own, bundlePem: ca.bundlePem });
    const first = await get();
    expect(first).toMatchObject({ status: 200 });
    expect(first.body).toMatch(/^URI:spiffe:\/\/shop\.cairn\/dev\/_gateway \d+$/);
    expect((await get()).body).toBe(first.body); // same client port: the connection was kept
  });

  it('refuses another service’s SVID, an SVID of another CA, and an expired one', async () => {
    await createWorkloadCa(join(dir, 'other'));
    const other = await loadWorkloadCa(join(dir, 'other'));
    const long = Date.now() - 3_600_000;
    for (const wrong of [
      await svid('web', ca),
      await svid('orders', other),
      await svid('orders', ca, 60_000, new Date(long)),
    ]) {
      await routeTo(await backend(wrong, ca.bundlePem));
      expect(await get()).toMatchObject({ status: 502 });
    }
  });
});
