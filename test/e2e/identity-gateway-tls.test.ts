/**
 * Runbook: a service that serves HTTPS with its SVID (`run.tls`) behind the built-in gateway,
 * under bwrap (host loopback) and runc (the instance in its own network namespace). Given `tls`
 * (run.tls, serving its own SVID), `imposter` (run.tls, serving tls's SVID, as an instance holding
 * a stolen certificate would) and `plain` (plain HTTP, allowed to call tls), SVIDs living 6 s:
 * traffic to tls works and tls sees the gateway's client SVID; plain's call through the identity
 * hop reaches tls over mutual TLS too; imposter never becomes healthy and
 * gets no traffic, saying why; plain is unaffected; under load, the SVIDs and the gateway's own
 * certificate are renewed in place with no failed request.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSvid, loadWorkloadCa } from '../../src/identity/index.js';
import { detectDrivers } from '../../src/runtime/index.js';
import { requestText } from '../helpers/http.js';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';

const STEP_MS = 240_000;
const TTL_S = 6;
const TD = 'gwtls.cairn';
/** bwrap shares the host's loopback; runc runs each instance in its own network namespace. */
const DRIVERS = (['bwrap', 'runc'] as const).filter((kind) =>
  detectDrivers().some((d) => d.kind === kind && d.usable),
);

const service = (name: string, script: string, extra: string) => `  ${name}:
    build:
      context: ./app
      include: ["**/*.js", "**/*.pem", "package.json"]
      entrypoint: ["node", "${script}"]
${name === 'imposter' ? '      env: { SVID_FROM: /app/stolen }\n' : ''}    run:
      port: 8080
      replicas: 1
      health: { path: /healthz, intervalMs: 200, timeoutMs: 1000, startPeriodMs: 1000 }
${extra}    deploy: { strategy: bluegreen, scaleDownDelayMs: 0 }`;

const spec = (port: number, hopPort: number) => `project: gwtls
identity: { svidTtlMs: ${TTL_S}s, hopPort: ${hopPort} }
services:
${service('tls', 'tls.js', '      tls: true\n')}
${service('imposter', 'tls.js', '      tls: true\n')}
${service('plain', 'probe.js', '      network: { allow: [tls] }\n')}
environments:
  dev: { gateway: { listen: "127.0.0.1:${port}" } }
routes:
${['tls', 'imposter', 'plain'].map((n) => `  - { host: ${n}.test, path: /, service: ${n} }`).join('\n')}
`;

/** GET through the gateway with a Host header; `agent` keeps the connection when given. */
function viaGateway(
  port: number,
  host: string,
  path: string,
  agent: boolean | import('node:http').Agent = false,
) {
  return requestText(request, { host: '127.0.0.1', port, path, headers: { host }, agent }, 10_000);
}

describe.each(DRIVERS)('gateway → instance mutual TLS (run.tls, %s)', (driver) => {
  let ws: HelloWorkspace;
  let port: number;
  const cli = async (...args: string[]) => {
    const r = await ws.runAsync(args, STEP_MS);
    expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    port = await freePort();
    ws = new HelloWorkspace(spec(port, await freePort()));
    for (const f of ['tls.js', 'probe.js'])
      writeFileSync(join(ws.dir, 'app', f), new Uint8Array(await readFixture(f)));
    await cli('init');
    // What an attacker who copied tls's SVID files would serve: baked into imposter's image.
    const ca = await loadWorkloadCa(join(ws.dir, '.cairn', 'keys'));
    const stolen = await issueSvid(
      ca,
      { trustDomain: TD, env: 'dev', service: 'tls', release: 'rel-stolen', instance: 'ins-stolen' },
      3_600_000,
    );
    writeFileSync(join(ws.dir, 'app', 'stolen.pem'), stolen.certPem);
    writeFileSync(join(ws.dir, 'app', 'stolen-key.pem'), stolen.keyPem);
    await cli('build', 'tls', 'imposter', 'plain');
    await cli('up', '--detach', '--driver', driver);
    for (const s of ['tls', 'plain'])
      await cli('deploy', s, '--env', 'dev', '--image', s, '--wait', '--timeout', '120s');
  }, STEP_MS * 2);
  afterAll(() => ws?.cleanup());

  it('Given tls serves its SVID, When a client calls it through the gateway, Then it answers and sees the gateway’s SVID', async () => {
    const r = await viaGateway(port, 'tls.test', '/who');
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({
      peer: `URI:spiffe://${TD}/dev/_gateway`,
      me: `URI:spiffe://${TD}/dev/tls`,
    });
  });

  it('Given plain does not opt in, Then it is served over plain HTTP as before', async () => {
    const r = await viaGateway(port, 'plain.test', '/whoami');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ me: `spiffe://${TD}/dev/plain` });
  });

  it('Given plain may call tls, When it calls through the identity hop, Then the hop reaches tls over mutual TLS', async () => {
    const r = JSON.parse((await viaGateway(port, 'plain.test', '/call?to=tls')).body);
    if (r.status !== 200 && process.env.GWTLS_DEBUG)
      console.log(
        new Date().toISOString(),
        readFileSync(join(ws.dir, '.cairn', 'logs', 'control-plane.log'), 'utf8').slice(-6000),
      );
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({
      // The hop's certificate also has IP SAN 127.0.0.1 (docs/identity.md).
      peer: expect.stringMatching(new RegExp(`^URI:spiffe://${TD}/cairn/identity-hop(,|$)`)),
      me: `URI:spiffe://${TD}/dev/tls`,
      caller: `spiffe://${TD}/dev/plain`,
    });
  });

  it(
    'Given imposter serves tls’s SVID, Then it never becomes healthy, gets no traffic, and the reason is shown',
    async () => {
      const r = await ws.runAsync(
        ['deploy', 'imposter', '--env', 'dev', '--image', 'imposter', '--wait', '--timeout', '8s'],
        STEP_MS,
      );
      expect(r.code).not.toBe(0);
      expect(`${r.stdout}${r.stderr}`).toMatch(
        new RegExp(`names URI:spiffe://${TD}/dev/tls, not spiffe://${TD}/dev/imposter`),
      );
      const ps = JSON.parse((await cli('ps', '--env', 'dev', '-o', 'json')).stdout) as {
        instances: Array<{ service: string; health: string }>;
      };
      expect(ps.instances.filter((i) => i.service === 'imposter' && i.health === 'healthy')).toEqual([]);
      expect((await viaGateway(port, 'imposter.test', '/who')).status).toBe(503);
    },
    STEP_MS,
  );

  it('Given requests under load on kept-alive connections, When the SVIDs pass half-life, Then they are renewed with 0 failed requests', async () => {
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 4 });
    const serials = new Set<string>();
    const failures: string[] = [];
    let calls = 0;
    const deadline = Date.now() + (TTL_S + 2) * 1000;
    const worker = async () => {
      while (Date.now() < deadline) {
        const r = await viaGateway(port, 'tls.test', '/who', agent).catch((e: Error) => ({
          status: 0,
          body: e.message,
        }));
        calls++;
        if (r.status !== 200) failures.push(`${r.status} ${r.body}`);
        else serials.add(JSON.parse(r.body).serial);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    agent.destroy();
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(50);
    expect(serials.size).toBeGreaterThanOrEqual(2);
    // New connections after the renewals: the gateway's renewed certificate is still accepted.
    expect((await viaGateway(port, 'tls.test', '/who')).status).toBe(200);
  }, 60_000);
});

async function readFixture(name: string): Promise<Buffer> {
  const { readFile } = await import('node:fs/promises');
  return readFile(new URL(`./identity-app/${name}`, import.meta.url));
}
