/**
 * Runbook: services call each other only as who they are. Given services a, b and c — under bwrap,
 * on the host's loopback, and under runc, each in its own network namespace, reaching the identity
 * hop at its host address — a spec where only a may call b, and SVIDs that live 6 s:
 * a's call reaches b carrying a's verified SPIFFE ID; c is refused; a certificate forged with the
 * same subject under another CA is refused; the SVIDs verify with openssl against the bundle and
 * `cairn trace` names the current serial; under load, SVIDs are renewed in place at half-life with
 * no failed call; after a's instance is replaced, its old (unexpired) SVID is refused.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkloadCa, issueSvid, loadWorkloadCa } from '../../src/identity/index.js';
import { detectDrivers } from '../../src/runtime/index.js';
import { requestText } from '../helpers/http.js';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';

const STEP_MS = 240_000;
const TTL_S = 6;
/** bwrap shares the host's loopback; runc runs each instance in its own network namespace. */
const DRIVERS = (['bwrap', 'runc'] as const).filter((kind) =>
  detectDrivers().some((d) => d.kind === kind && d.usable),
);

const spec = (port: number, hopPort: number) => `project: idtest
identity: { svidTtlMs: ${TTL_S}s, hopPort: ${hopPort} }
services:
${['a', 'b', 'c']
  .map(
    (name) => `  ${name}:
    build: { context: ./app, include: ["**/*.js", "package.json"], entrypoint: ["node", "probe.js"] }
    run:
      port: 8080
      replicas: 1
      health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }
${name === 'a' ? '      network: { allow: [b] }\n' : ''}${name === 'c' ? '      stopGraceMs: 4000\n' : ''}    deploy: { strategy: bluegreen, scaleDownDelayMs: 0 }`,
  )
  .join('\n')}
environments:
  dev: { gateway: { listen: "127.0.0.1:${port}" } }
routes:
${['a', 'b', 'c'].map((name) => `  - { host: ${name}.test, path: /, service: ${name} }`).join('\n')}
`;

/** GET through the gateway with a Host header (fetch cannot set one). */
function viaGateway(port: number, host: string, path: string, headers: Record<string, string> = {}) {
  return requestText(
    httpRequest,
    { host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false },
    10_000,
  );
}

/** Calls the hop directly as the holder of `cert`/`key`. */
function viaHop(hopPort: number, path: string, cert: string, key: string, ca: string) {
  return requestText(request, { host: '127.0.0.1', port: hopPort, path, cert, key, ca, agent: false });
}

describe.each(DRIVERS)('workload identity: calls between services by SPIFFE ID (%s)', (driver) => {
  let ws: HelloWorkspace;
  let port: number;
  let hopPort: number;
  const cli = async (...args: string[]) => {
    const r = await ws.runAsync(args, STEP_MS);
    expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r;
  };
  const json = async (host: string, path: string) => JSON.parse((await viaGateway(port, host, path)).body);
  const instances = async () =>
    (
      JSON.parse((await cli('ps', '--env', 'dev', '-o', 'json')).stdout) as {
        instances: Array<{ id: string; service: string; release: string; health: string }>;
      }
    ).instances;
  const instanceOf = async (service: string) =>
    (await instances()).find((i) => i.service === service && i.health === 'healthy')!;
  const liveIds = async () => (await instances()).map((i) => i.id);
  const bundle = () => readFileSync(join(ws.dir, '.cairn', 'keys', 'workload-ca.pem'), 'utf8');

  beforeAll(async () => {
    port = await freePort();
    hopPort = await freePort();
    ws = new HelloWorkspace(spec(port, hopPort));
    writeFileSync(
      join(ws.dir, 'app', 'probe.js'),
      readFileSync(new URL('./identity-app/probe.js', import.meta.url)),
    );
    await cli('init');
    await cli('build', 'a', 'b', 'c');
    await cli('up', '--detach', '--driver', driver);
    for (const s of ['a', 'b', 'c'])
      await cli('deploy', s, '--env', 'dev', '--image', s, '--wait', '--timeout', '120s');
  }, STEP_MS * 2);
  afterAll(() => ws?.cleanup());

  it('Given a may call b, When a calls b through the hop, Then b sees a’s verified SPIFFE ID', async () => {
    const r = await json('a.test', '/call?to=b');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({
      me: 'spiffe://idtest.cairn/dev/b',
      caller: 'spiffe://idtest.cairn/dev/a',
    });
    // A client of the gateway cannot claim an identity: the header is dropped on the way in.
    const forged = await viaGateway(port, 'b.test', '/whoami', {
      'x-cairn-caller-spiffe-id': 'spiffe://idtest.cairn/dev/a',
    });
    expect(JSON.parse(forged.body).caller).toBeNull();
  });

  it('Given c is not allowed, When c calls b, Then it is refused and the refusal is audited', async () => {
    const plan = (await cli('plan')).stdout;
    expect(plan).toContain('a → b');
    expect(plan).not.toContain('c → b');
    const r = await json('c.test', '/call?to=b');
    expect(r.status, JSON.stringify(r)).toBe(403);
    expect(r.body).toMatch(/c may not call b/);
    const log = JSON.parse((await cli('audit', 'log', '--output', 'json')).stdout) as {
      entries: Array<{ action: string; detail?: Record<string, unknown> }>;
    };
    expect(log.entries).toContainEqual(
      expect.objectContaining({
        action: 'identity.call.refuse',
        detail: expect.objectContaining({ callee: 'b', status: 403 }),
      }),
    );
  });

  it('Given a certificate with a’s subject under another CA, When it calls b, Then it is refused', async () => {
    const a = (await instanceOf('a')).id;
    const forger = await loadWorkloadCa(await forgerKeys(ws.dir));
    const subject = new X509Certificate((await json('a.test', '/svid')).pem as string).subject;
    const forged = await issueSvid(
      forger,
      {
        trustDomain: 'idtest.cairn',
        env: 'dev',
        service: 'a',
        release: /OU=(\S+)/.exec(subject)![1]!,
        instance: a,
      },
      60_000,
    );
    const r = await viaHop(hopPort, '/b/whoami', forged.certPem, forged.keyPem, bundle());
    expect(r.status).toBe(401);
    expect(r.body).toMatch(/not signed by the workload CA/);
  });

  it('Given a running instance, Then its SVID verifies with openssl and cairn trace shows its serial', async () => {
    const svid = await json('a.test', '/svid');
    writeFileSync(join(ws.dir, 'svid.pem'), svid.pem);
    writeFileSync(join(ws.dir, 'bundle.pem'), bundle());
    const out = execFileSync('openssl', [
      'verify',
      '-CAfile',
      join(ws.dir, 'bundle.pem'),
      join(ws.dir, 'svid.pem'),
    ]);
    expect(out.toString()).toContain(': OK');
    const trace = JSON.parse((await cli('trace', (await instanceOf('a')).id, '--output', 'json')).stdout);
    expect(trace.svid).toMatchObject({ spiffeId: 'spiffe://idtest.cairn/dev/a' });
    // The trace names the latest issuance; the app may have read the one before a renewal.
    expect(typeof trace.svid.serial).toBe('string');
    // The dashboard's instance list carries the same SVID.
    const api = JSON.parse(readFileSync(join(ws.dir, '.cairn', 'api.json'), 'utf8')).url as string;
    const token = readFileSync(join(ws.dir, '.cairn', 'api-token'), 'utf8').trim();
    const { instances: views } = (await (
      await fetch(`${api}/v1/instances`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { instances: Array<{ service: string; svid?: { spiffeId: string; serial: string } }> };
    expect(views.find((v) => v.service === 'b')?.svid).toMatchObject({
      spiffeId: 'spiffe://idtest.cairn/dev/b',
    });
  });

  it('Given calls under load, When the SVIDs pass half-life, Then they are renewed in place with 0 failed calls', async () => {
    const first = await json('a.test', '/svid');
    const serials = new Set<string>([first.serial]);
    let calls = 0;
    const failures: string[] = [];
    const deadline = Date.now() + (TTL_S + 2) * 1000;
    const worker = async () => {
      while (Date.now() < deadline) {
        const r = await json('a.test', '/call?to=b').catch((e: Error) => ({ status: 0, body: e.message }));
        calls++;
        if (r.status !== 200) failures.push(`${r.status} ${r.body}`);
      }
    };
    const watcher = async () => {
      while (Date.now() < deadline) {
        const now = await json('a.test', '/svid');
        expect(now.pid).toBe(first.pid);
        serials.add(now.serial);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    await Promise.all([worker(), worker(), worker(), watcher()]);
    if (failures.length > 0 && process.env.IDENTITY_E2E_DEBUG) {
      console.log(
        readFileSync(join(ws.dir, '.cairn', 'logs', 'control-plane.log'), 'utf8')
          .split('\n')
          .filter((l) => /fail|error|identity/i.test(l))
          .join('\n'),
      );
      console.log(new Date().toISOString(), failures);
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(20);
    expect(serials.size).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('Given a’s instance is replaced by a new release, Then an SVID of the old instance is refused though unexpired', async () => {
    const ca = await loadWorkloadCa(join(ws.dir, '.cairn', 'keys'));
    const svidOf = (i: { id: string; release: string }) =>
      issueSvid(
        ca,
        { trustDomain: 'idtest.cairn', env: 'dev', service: 'a', release: i.release, instance: i.id },
        60_000,
      );
    const old = await instanceOf('a');
    ws.edit('network: { allow: [b] }', 'network: { allow: [b] }\n      stopGraceMs: 2000');
    await cli('deploy', 'a', '--env', 'dev', '--image', 'a', '--wait', '--timeout', '120s');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await liveIds()).includes(old.id))
      await new Promise((r) => setTimeout(r, 300));
    // As if the old instance's SVID and key had been stolen, with time left on it.
    const stolen = await svidOf(old);
    const r = await viaHop(hopPort, '/b/whoami', stolen.certPem, stolen.keyPem, bundle());
    expect(r.status, r.body).toBe(403);
    expect(r.body).toMatch(new RegExp(`instance ${old.id} is (stopped|failed)`));
    const current = await svidOf(await instanceOf('a'));
    expect((await viaHop(hopPort, '/b/whoami', current.certPem, current.keyPem, bundle())).status).toBe(200);
  }, 180_000);
});

/** A second CA, as an attacker would make one. */
async function forgerKeys(dir: string): Promise<string> {
  const keys = join(dir, 'forger-keys');
  await createWorkloadCa(keys);
  return keys;
}
