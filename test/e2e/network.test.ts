/**
 * Runbook: nothing reaches an instance but the gateway. Two services run isolated under `cairn up`
 * with real runc: each instance in its own network namespace, wired to the host by a veth pair, the
 * workspace's nftables table letting only the control plane's cgroup in. From the host, a direct
 * connection to an instance fails while the gateway serves it; one instance cannot reach the other
 * service's instance until `run.network.allow` lists it; a host service on 127.0.0.1 is refused
 * until `run.network.egress` lists it.
 * After a replacement, a control-plane crash and `cairn down`, nothing of it is left.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDrivers, hostNetworkSupport } from '../../src/runtime/index.js';
import { tableName, workspaceTag } from '../../src/runtime/network/index.js';
import type { CliResult } from '../helpers/cli.js';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';

const STEP_MS = 300_000;
const usable = detectDrivers().some((d) => d.kind === 'runc' && d.usable) && hostNetworkSupport().ok;
if (!usable) console.warn('runc, root, iproute2 and nftables are needed: network isolation e2e skipped');

/** The service: says who it is, and tries a TCP connection where it is told to. */
const PROBE = `import { createServer, get } from 'node:http';
import { connect } from 'node:net';
const fetchPeer = (addr) => new Promise((done) => {
  const [host, port] = addr.split(':');
  get({ host, port, path: '/', timeout: 1500 }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => done(JSON.parse(b))); })
    .once('timeout', function () { this.destroy(); done({ error: 'ETIMEDOUT' }); })
    .once('error', (e) => done({ error: e.code }));
});
const tryConnect = (host, port) => new Promise((done) => {
  const s = connect({ host, port: Number(port), timeout: 1500 });
  s.once('connect', () => { s.destroy(); done({ ok: true }); });
  s.once('timeout', () => { s.destroy(); done({ error: 'ETIMEDOUT' }); });
  s.once('error', (e) => done({ error: e.code }));
});
const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/healthz') return res.end('ok');
  let body = { service: process.env.SERVICE, host: process.env.CAIRN_HOST };
  const to = url.searchParams.get('to');
  const call = url.searchParams.get('call');
  if (call) body = process.env[call] ? await fetchPeer(process.env[call]) : { error: 'no ' + call };
  else if (to) {
    const [h, p] = to.split(':');
    body = await tryConnect(h === 'host' ? process.env.CAIRN_HOST : h === 'self' ? '127.0.0.1' : h, p === 'self' ? process.env.PORT : p);
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
});
server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;

const service = (name: string) => `  ${name}:
    build:
      context: ./app
      include: ["probe.js"]
      entrypoint: ["node", "probe.js"]
      env: { SERVICE: ${name} }
    run:
      port: 8080
      replicas: 1
      health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }
    deploy: { strategy: rolling }
`;

interface Instance {
  id: string;
  service: string;
  endpoint: string;
}

describe.runIf(usable)(
  'network isolation: only the gateway reaches instances (real runc, veth, nftables)',
  () => {
    let ws: HelloWorkspace;
    let gateway: string;
    let hostServer: Server;
    let hostPort: number;
    let hostHits = 0;
    let tag: string;
    const cairn = (args: string[]): Promise<CliResult> => ws.runAsync(args, STEP_MS);
    const ok = async (args: string[]) => {
      const r = await cairn(args);
      expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r;
    };
    const deploy = (name: string) =>
      ok(['deploy', name, '--env', 'dev', '--image', name, '--wait', '--timeout', '120s']);
    const instances = async () =>
      (JSON.parse((await ok(['ps', '--env', 'dev', '-o', 'json'])).stdout) as { instances: Instance[] })
        .instances;
    const via = async (path: string) =>
      (await (await fetch(`http://${gateway}${path}`)).json()) as Record<string, unknown>;
    const links = () =>
      execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes(`cx${tag}s`));
    const table = () => {
      try {
        return execFileSync('nft', ['list', 'table', 'inet', tableName(tag)], {
          encoding: 'utf8',
          stdio: 'pipe',
        });
      } catch {
        return undefined;
      }
    };
    /** A direct TCP connection from this (host) process: outside the gateway's cgroup. */
    const direct = (endpoint: string) =>
      new Promise<string>((done) => {
        const [host, port] = endpoint.split(':');
        const s = connect({ host: host!, port: Number(port), timeout: 2000 });
        s.once('connect', () => {
          s.destroy();
          done('connected');
        });
        s.once('timeout', () => {
          s.destroy();
          done('ETIMEDOUT');
        });
        s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'error'));
      });

    beforeAll(async () => {
      hostServer = createServer((_req, res) => res.end('host service\n'));
      hostServer.on('connection', () => {
        hostHits += 1;
      });
      await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r));
      hostPort = (hostServer.address() as { port: number }).port;
      const port = await freePort();
      gateway = `127.0.0.1:${port}`;
      ws = new HelloWorkspace(`project: net
services:
${service('hello')}${service('peer')}environments:
  dev: { gateway: { listen: "${gateway}" } }
routes:
  - { host: "*", path: /peer, service: peer }
  - { host: "*", path: /, service: hello }
`);
      writeFileSync(join(ws.dir, 'app', 'probe.js'), PROBE);
      tag = workspaceTag(resolve(ws.dir, '.cairn', 'runtime'));
      await ok(['init']);
      await ok(['build', 'hello']);
      await ok(['build', 'peer']);
      await ok(['up', '--detach', '--driver', 'runc']);
      await deploy('hello');
      await deploy('peer');
    }, STEP_MS);

    afterAll(async () => {
      hostServer?.close();
      ws?.cleanup();
    }, STEP_MS);

    it(
      'Given both services run, Then the gateway serves each, and a direct connection from the host to either instance fails',
      async () => {
        expect(await via('/')).toMatchObject({ service: 'hello' });
        expect(await via('/peer')).toMatchObject({ service: 'peer' });
        const all = await instances();
        expect(all).toHaveLength(2);
        for (const i of all) {
          expect(i.endpoint).toMatch(/^10\.201\.\d+\.\d+:\d+$/);
          expect(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH']).toContain(
            await direct(i.endpoint),
          );
        }
        // And nothing of theirs listens on the host: their sockets live in their own namespaces.
        const listening = execFileSync('ss', ['-Hltn'], { encoding: 'utf8' });
        for (const i of all) expect(listening).not.toContain(`:${i.endpoint.split(':')[1]} `);
      },
      STEP_MS,
    );

    it(
      "Then an instance reaches its own loopback, but neither the other service's instance nor a host service it does not list",
      async () => {
        const peer = (await instances()).find((i) => i.service === 'peer')!;
        expect(await via('/?to=self:self')).toEqual({ ok: true });
        expect((await via(`/?to=${peer.endpoint}`)).error).toMatch(/ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH/);
        expect((await via(`/?to=host:${hostPort}`)).error).toMatch(/ECONNREFUSED|ETIMEDOUT/);
        expect(hostHits).toBe(0);
      },
      STEP_MS,
    );

    it(
      'When hello lists the host service under run.network.egress, Then its new instance reaches it, and the replaced one left no interface behind',
      async () => {
        ws.edit(
          'health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }\n    deploy: { strategy: rolling }\n  peer:',
          `health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }\n      network: { egress: ["127.0.0.1:${hostPort}"] }\n    deploy: { strategy: rolling }\n  peer:`,
        );
        const before = (await instances()).find((i) => i.service === 'hello')!;
        await deploy('hello');
        const after = (await instances()).find((i) => i.service === 'hello')!;
        expect(after.id).not.toBe(before.id);
        expect(await via(`/?to=host:${hostPort}`)).toEqual({ ok: true });
        expect(hostHits).toBeGreaterThan(0);
        // peer lists nothing: still refused for it.
        expect((await via(`/peer?to=host:${hostPort}`)).error).toMatch(/ECONNREFUSED|ETIMEDOUT/);
        await new Promise((r) => setTimeout(r, 500));
        expect(links()).toHaveLength((await instances()).length);
      },
      STEP_MS,
    );

    it(
      'When the control plane is killed and started again, Then it adopts the instances and the rules still hold',
      async () => {
        const api = JSON.parse(
          execFileSync('cat', [join(ws.dir, '.cairn', 'api.json')], { encoding: 'utf8' }),
        ) as { pid: number };
        process.kill(api.pid, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 500));
        await ok(['up', '--detach', '--driver', 'runc']);
        expect(await via('/')).toMatchObject({ service: 'hello' });
        for (const i of await instances())
          expect(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH']).toContain(
            await direct(i.endpoint),
          );
      },
      STEP_MS,
    );

    it(
      'When cairn down runs, Then no interface, nftables table or cgroup of the workspace is left',
      async () => {
        expect(table()).toBeDefined();
        await ok(['down']);
        expect(links()).toEqual([]);
        expect(table()).toBeUndefined();
        expect(
          existsSync(`/sys/fs/cgroup/unified/cairn-gw-${tag}`) ||
            existsSync(`/sys/fs/cgroup/cairn-gw-${tag}`),
        ).toBe(false);
      },
      STEP_MS,
    );
  },
);
