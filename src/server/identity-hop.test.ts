import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../audit/index.js';
import {
  type CallerRecord,
  createWorkloadCa,
  issueHopCertificate,
  issueSvid,
  loadWorkloadCa,
  type Svid,
  type WorkloadCa,
} from '../identity/index.js';
import { CALLER_HEADER, IdentityHop } from './identity-hop.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-hop-'));
const TD = 'shop.cairn';
let ca: WorkloadCa;
let hop: IdentityHop;
let hopPort: number;
let backend: Server;
const events: AuditEvent[] = [];
const seen: Array<Record<string, unknown>> = [];
/** The instances the "state store" knows: id → record. */
const instances = new Map<string, CallerRecord>();

const svidFor = (service: string, instance: string, c = ca, now = new Date()) =>
  issueSvid(
    c,
    { trustDomain: TD, env: 'prod', service, release: `rel-${service}00000000000`.slice(0, 16), instance },
    60_000,
    now,
  );

function call(
  path: string,
  svid?: Svid,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: hopPort,
        path,
        headers,
        ca: ca.bundlePem,
        ...(svid ? { cert: svid.certPem, key: svid.keyPem } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  await createWorkloadCa(join(dir, 'keys'));
  ca = await loadWorkloadCa(join(dir, 'keys'));
  backend = createServer((req, res) => {
    seen.push({ url: req.url, ...req.headers });
    res.end('b says hi\n');
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const backendPort = (backend.address() as { port: number }).port;
  for (const [id, service, allow] of [
    ['ins-a', 'a', ['b']],
    ['ins-c', 'c', []],
    ['ins-old', 'a', ['b']],
  ] as const) {
    instances.set(id, {
      service,
      env: 'prod',
      release: `rel-${service}00000000000`.slice(0, 16),
      live: id !== 'ins-old',
      state: id === 'ins-old' ? 'stopped' : 'healthy',
      allow,
    });
  }
  hop = new IdentityHop({
    trustDomain: TD,
    bundlePem: ca.bundlePem,
    cert: await issueHopCertificate(ca, TD, 60_000),
    caller: (svid) => instances.get(svid.instance ?? ''),
    endpoints: (env, service) => (env === 'prod' && service === 'b' ? [`127.0.0.1:${backendPort}`] : []),
    record: (e) => events.push(e),
  });
  hopPort = await hop.listen(0);
});

afterAll(async () => {
  await hop.close();
  backend.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('identity hop', () => {
  it('forwards an allowed call with the caller’s verified SPIFFE ID, never one the caller claims', async () => {
    const a = await svidFor('a', 'ins-a');
    const r = await call('/b/orders?id=7', a, { [CALLER_HEADER]: 'spiffe://shop.cairn/prod/admin' });
    expect(r).toEqual({ status: 200, body: 'b says hi\n' });
    expect(seen.at(-1)).toMatchObject({ url: '/orders?id=7', [CALLER_HEADER]: 'spiffe://shop.cairn/prod/a' });
    expect(events).toContainEqual(
      expect.objectContaining({
        action: 'identity.call.allow',
        detail: expect.objectContaining({ callee: 'b', serial: a.serial }),
      }),
    );
  });

  it('refuses a service its release does not allow, and audits it', async () => {
    const r = await call('/b/', await svidFor('c', 'ins-c'));
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/c may not call b/);
    expect(events.at(-1)).toMatchObject({
      action: 'identity.call.refuse',
      subject: { instance: 'ins-c' },
      detail: { callee: 'b', status: 403 },
    });
  });

  it('refuses a caller without a certificate, and a forged one (same subject, another CA)', async () => {
    expect((await call('/b/')).status).toBe(401);
    await createWorkloadCa(join(dir, 'forger'));
    const forged = await svidFor('a', 'ins-a', await loadWorkloadCa(join(dir, 'forger')));
    const r = await call('/b/', forged);
    expect(r.status).toBe(401);
    expect(r.body).toMatch(/not signed by the workload CA/);
    expect(events.at(-1)).toMatchObject({
      action: 'identity.call.refuse',
      detail: { serial: forged.serial },
    });
  });

  it('refuses the SVID of a replaced instance before it expires, and an expired one', async () => {
    const old = await call('/b/', await svidFor('a', 'ins-old'));
    expect(old).toMatchObject({ status: 403, body: expect.stringMatching(/ins-old is stopped/) });
    const expired = await svidFor('a', 'ins-a', ca, new Date(Date.now() - 3_600_000));
    expect((await call('/b/', expired)).status).toBe(401);
  });

  it('records a repeated refusal once per window', async () => {
    const c = await svidFor('c', 'ins-c');
    const before = events.length;
    for (let i = 0; i < 5; i++) expect((await call('/b/', c)).status).toBe(403);
    expect(events.length - before).toBeLessThanOrEqual(1);
  });
});
