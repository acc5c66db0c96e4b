/**
 * Runbook: an ordinary app runs as written, first try (real runc, own network namespace).
 * An app hard-wired to listen on 3000 passes its health check when run.port is 3000; an app told
 * its port on the command line gets it through `$(PORT)` (no shell in the image), `$$(PORT)`
 * stays literal and an unknown `$(…)` is left as written. tmpfs folders the image lacks are made
 * and belong to the image user.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDrivers, hostNetworkSupport } from '../../src/runtime/index.js';
import type { CliResult } from '../helpers/cli.js';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';

const STEP_MS = 300_000;
const usable = detectDrivers().some((d) => d.kind === 'runc' && d.usable) && hostNetworkSupport().ok;
if (!usable) console.warn('runc, root, iproute2 and nftables are needed: app runtime e2e skipped');

/** Listens on 3000 whatever PORT says, like most apps (json-server, express examples). */
const FIXED = `const http = require('node:http');
http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ app: 'fixed', listening: 3000, PORT: process.env.PORT }));
}).listen(3000);
process.on('SIGTERM', () => process.exit(0));
`;

/** Listens where its command line says: node args.js --port N. */
const ARGS = `const http = require('node:http');
const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ app: 'args', argv: process.argv.slice(2) }));
}).listen(port);
process.on('SIGTERM', () => process.exit(0));
`;

/** Writes into each folder named in WRITE and says who owns it. */
const WRITER = `const http = require('node:http');
const fs = require('node:fs');
http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  const out = {};
  for (const dir of process.env.WRITE.split(',')) {
    try {
      fs.writeFileSync(dir + '/probe.txt', 'hello');
      const st = fs.statSync(dir);
      out[dir] = { read: fs.readFileSync(dir + '/probe.txt', 'utf8'), uid: st.uid, mode: (st.mode & 0o7777).toString(8) };
    } catch (e) { out[dir] = { error: e.code }; }
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ uid: process.getuid(), dirs: out }));
}).listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => process.exit(0));
`;

/** Keeps rows in /app/data/rows.json (a volume): GET lists them, POST ?row=x adds one. */
const STORE = `const http = require('node:http');
const fs = require('node:fs');
const file = '/app/data/rows.json';
const rows = () => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : []);
http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  const url = new URL(req.url, 'http://x');
  if (req.method === 'POST') fs.writeFileSync(file, JSON.stringify([...rows(), url.searchParams.get('row')]));
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ version: process.env.VERSION, rows: rows() }));
}).listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => process.exit(0));
`;

const spec = (gateway: string) => `project: apps
services:
  fixed:
    build:
      context: ./app
      include: ["fixed.js"]
      entrypoint: ["node", "fixed.js"]
    run:
      port: 3000
      health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }
  args:
    build:
      context: ./app
      include: ["args.js"]
      entrypoint: ["node", "args.js", "--port", "$(PORT)", "$$(PORT)", "$(NOT_A_VAR)", "at=$(HOST):$(PORT)"]
    run:
      port: 4100
      health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }
  writer:
    build:
      context: ./app
      include: ["writer.js"]
      entrypoint: ["node", "writer.js"]
      env: { WRITE: "/data,/app/cache/deep,/tmp,/app" }
    run:
      port: 4200
      tmpfs: [/data, /app/cache/deep, /tmp]
      health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }
  store:
    build:
      context: ./app
      include: ["store.js"]
      entrypoint: ["node", "store.js"]
      env: { VERSION: v1 }
    run:
      port: 4300
      volumes: [{ name: rows, path: /app/data }]
      health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }
    deploy: { strategy: bluegreen, scaleDownDelayMs: 0s }
environments:
  dev: { gateway: { listen: "${gateway}" } }
routes:
  - { host: "*", path: /args, service: args }
  - { host: "*", path: /store, service: store }
  - { host: "*", path: /writer, service: writer }
  - { host: "*", path: /, service: fixed }
`;

describe.runIf(usable)('real apps run as written (fixed ports, $(VAR) in arguments)', () => {
  let ws: HelloWorkspace;
  let gateway: string;
  const cairn = (args: string[]): Promise<CliResult> => ws.runAsync(args, STEP_MS);
  const ok = async (args: string[]) => {
    const r = await cairn(args);
    expect(r.code, `cairn ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
    return r;
  };
  const via = async (path: string) =>
    (await (await fetch(`http://${gateway}${path}`)).json()) as Record<string, unknown>;

  beforeAll(async () => {
    gateway = `127.0.0.1:${await freePort()}`;
    ws = new HelloWorkspace(spec(gateway));
    writeFileSync(join(ws.dir, 'app', 'fixed.js'), FIXED);
    writeFileSync(join(ws.dir, 'app', 'args.js'), ARGS);
    writeFileSync(join(ws.dir, 'app', 'writer.js'), WRITER);
    writeFileSync(join(ws.dir, 'app', 'store.js'), STORE);
    await ok(['init']);
    await ok(['build', 'fixed']);
    await ok(['build', 'args']);
    await ok(['build', 'writer']);
    await ok(['up', '--detach', '--driver', 'runc']);
  }, STEP_MS);

  afterAll(() => ws?.cleanup(), STEP_MS);

  it(
    'Given an app that listens on 3000 and run.port 3000, When it is deployed with --wait, Then it is healthy and served on its own address at :3000',
    async () => {
      await ok(['deploy', 'fixed', '--env', 'dev', '--image', 'fixed', '--wait', '--timeout', '60s']);
      expect(await via('/')).toEqual({ app: 'fixed', listening: 3000, PORT: '3000' });
      const ps = JSON.parse((await ok(['ps', '--env', 'dev', '-o', 'json'])).stdout) as {
        instances: Array<{ service: string; endpoint: string }>;
      };
      expect(ps.instances.find((i) => i.service === 'fixed')?.endpoint).toMatch(/^10\.\d+\.\d+\.\d+:3000$/);
    },
    STEP_MS,
  );

  it(
    'Given an entrypoint with $(PORT), When it is deployed, Then the app gets its port on the command line, $$(PORT) stays literal and an unknown reference is kept',
    async () => {
      await ok(['deploy', 'args', '--env', 'dev', '--image', 'args', '--wait', '--timeout', '60s']);
      expect(await via('/args')).toEqual({
        app: 'args',
        argv: ['--port', '4100', '$(PORT)', '$(NOT_A_VAR)', 'at=0.0.0.0:4100'],
      });
    },
    STEP_MS,
  );

  it(
    'Given tmpfs folders the image does not have (/data, /app/cache/deep), When the service is deployed, Then it is healthy and the image user owns and writes each of them, while the rest of the root stays read-only',
    async () => {
      const started = Date.now();
      await ok(['deploy', 'writer', '--env', 'dev', '--image', 'writer', '--wait', '--timeout', '60s']);
      expect(Date.now() - started).toBeLessThan(30_000);
      const body = (await via('/writer')) as { uid: number; dirs: Record<string, unknown> };
      expect(body.uid).toBe(65532);
      for (const dir of ['/data', '/app/cache/deep', '/tmp'])
        expect(body.dirs[dir], dir).toEqual({ read: 'hello', uid: 65532, mode: '700' });
      expect(body.dirs['/app']).toEqual({ error: 'EROFS' });
    },
    STEP_MS,
  );

  describe('a volume', () => {
    const store = async (row?: string) =>
      (await (
        await fetch(`http://${gateway}/store${row ? `?row=${row}` : ''}`, { method: row ? 'POST' : 'GET' })
      ).json()) as { version: string; rows: string[] };
    const deployStore = () =>
      ok(['deploy', 'store', '--env', 'dev', '--image', 'store', '--wait', '--timeout', '60s']);
    const volumes = async () =>
      (
        JSON.parse((await ok(['volume', 'ls', '--env', 'dev', '-o', 'json'])).stdout) as {
          volumes: Array<{
            env: string;
            name: string;
            sizeBytes: number;
            services: string[];
            mountedBy: string[];
          }>;
        }
      ).volumes;

    it(
      'Given rows written to a volume by v1, When v2 replaces it and is rolled back, Then every row is still there',
      async () => {
        await ok(['build', 'store']);
        await deployStore();
        expect(await store('one')).toEqual({ version: 'v1', rows: ['one'] });
        ws.edit('VERSION: v1', 'VERSION: v2');
        await ok(['build', 'store']);
        await deployStore();
        expect(await store()).toEqual({ version: 'v2', rows: ['one'] });
        expect(await store('two')).toEqual({ version: 'v2', rows: ['one', 'two'] });
        await ok(['rollback', 'store', '--env', 'dev', '--wait']);
        expect(await store()).toEqual({ version: 'v1', rows: ['one', 'two'] });
      },
      STEP_MS,
    );

    it(
      'Then volume ls shows it with its size, service and the instance mounting it, and rm is refused while mounted',
      async () => {
        // The release switched away from stops a moment after the rollback returns.
        const storeInstances = async () =>
          (
            JSON.parse((await ok(['ps', '--env', 'dev', '-o', 'json'])).stdout) as {
              instances: Array<{ id: string; service: string }>;
            }
          ).instances.filter((i) => i.service === 'store');
        const deadline = Date.now() + 30_000;
        while ((await storeInstances()).length !== 1 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 250));
        const [v] = await volumes();
        expect(v).toEqual({
          env: 'dev',
          name: 'rows',
          sizeBytes: JSON.stringify(['one', 'two']).length,
          services: ['store'],
          mountedBy: (await storeInstances()).map((i) => i.id),
        });
        const rm = await cairn(['volume', 'rm', 'rows', '--env', 'dev']);
        expect(rm.code).toBe(1);
        expect(rm.stderr).toMatch(/removing volume rows of dev: ins-\S+ mounts it/);
        const log = JSON.parse((await ok(['audit', 'log', '--output', 'json'])).stdout) as {
          entries: Array<{ action: string; detail?: { volumes?: unknown } }>;
        };
        const starts = log.entries.filter((e) => e.action === 'instance.start' && e.detail?.volumes);
        const stops = log.entries.filter((e) => e.action === 'instance.stop' && e.detail?.volumes);
        expect(starts.length).toBeGreaterThanOrEqual(2);
        expect(stops.length).toBeGreaterThanOrEqual(1);
        expect(starts.at(-1)!.detail!.volumes).toEqual([
          { name: 'rows', path: '/app/data', sizeBytes: JSON.stringify(['one', 'two']).length },
        ]);
      },
      STEP_MS,
    );

    it(
      'When cairn down and up run, Then the rows are still served; after down, volume rm removes it (audited) and a new instance starts empty',
      async () => {
        await ok(['down']);
        await ok(['up', '--detach', '--driver', 'runc']);
        expect(await until(() => store())).toEqual({ version: 'v1', rows: ['one', 'two'] });
        await ok(['down']);
        expect((await volumes())[0]?.mountedBy).toEqual([]);
        expect((await ok(['volume', 'rm', 'rows', '--env', 'dev'])).stdout).toBe(
          'removed volume rows of dev (13 B)\n',
        );
        expect(await volumes()).toEqual([]);
        const log = JSON.parse((await ok(['audit', 'log', '--output', 'json'])).stdout) as {
          entries: Array<{
            action: string;
            subject: Record<string, string>;
            detail?: Record<string, unknown>;
          }>;
        };
        expect(log.entries.at(-1)).toMatchObject({
          action: 'volume.remove',
          subject: { env: 'dev' },
          detail: { name: 'rows', sizeBytes: 13 },
        });
        await ok(['up', '--detach', '--driver', 'runc']);
        expect(await until(() => store())).toEqual({ version: 'v1', rows: [] });
      },
      STEP_MS,
    );
  });
});

/** The store's first answer with rows (the gateway answers 503 until an instance is healthy), within a minute. */
async function until<T extends { rows?: unknown }>(probe: () => Promise<T>): Promise<T | undefined> {
  const deadline = Date.now() + 60_000;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe().catch(() => undefined);
    if (last?.rows) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  return last;
}
