/**
 * Runbook: a third-party app from npm, first try, no wrapper script. json-server 0.17.4 is built
 * from its npm package (a lockfile, nothing else), listens on its own fixed port 3000 in its own
 * namespace (`--host $(HOST)`, no shell in the image), and keeps its rows in a volume. A row
 * (json-server starts a new db with one sample post) POSTed in dev survives a canary to v2, a rollback, a drift replacement, and `cairn down` + `up`.
 * The same release promoted to prod runs with prod's own setting (read-only: a POST is refused),
 * prod's own configuration file (its routes file: /prod/* answers there, /dev/* only in dev) and
 * prod's own, empty volume.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';
import { appendByte, audit, runcUsable, waitFor } from './drift-helpers.js';

const STEP_MS = 600_000;

function spec(dev: number, prod: number): string {
  return `project: shop
services:
  items:
    build:
      context: ./app
      include: [package.json, package-lock.json]
      entrypoint: [node, /app/node_modules/json-server/lib/cli/bin.js, --host, $(HOST), --ro=$(READ_ONLY), --routes, /etc/items/routes.json, /app/data/db.json]
      env: { APP_VERSION: v1 }
    run:
      port: 3000
      replicas: 1
      health: { path: /db, intervalMs: 200, timeoutMs: 2000 }
      volumes: [{ name: items-data, path: /app/data }]
    deploy: { strategy: canary, steps: [{ weight: 50, pauseMs: 1s }, { weight: 100 }], scaleDownDelayMs: 1h }
    environments:
      dev: { env: { READ_ONLY: "false" }, files: { /etc/items/routes.json: ./config/routes-dev.json } }
      prod: { env: { READ_ONLY: "true" }, files: { /etc/items/routes.json: ./config/routes-prod.json } }
environments:
  dev: { gateway: { listen: "127.0.0.1:${dev}" }, drift: { intervalMs: 1s } }
  prod: { after: dev, gateway: { listen: "127.0.0.1:${prod}" } }
routes:
  - { host: "*", path: /, service: items }
`;
}

describe.runIf(runcUsable)(
  'a real app from npm, first try: json-server with its data on a volume (real runc)',
  () => {
    let ws: HelloWorkspace;
    let dev: number;
    let prod: number;
    /** The titles of the posts json-server holds (a new db starts with one sample post). */
    const titles = async (port: number) =>
      ((await (await fetch(`http://127.0.0.1:${port}/posts`)).json()) as Array<{ title: string }>).map(
        (p) => p.title,
      );
    const kept = async (port: number) => {
      try {
        return (await titles(port)).includes('first');
      } catch {
        return false;
      }
    };
    const post = (port: number, title: string) =>
      fetch(`http://127.0.0.1:${port}/posts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title, author: 'cairn' }),
      });
    const cairn = async (args: string[]) => {
      const r = await ws.runAsync(args, STEP_MS);
      expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}\n${r.stdout.slice(-2000)}`).toBe(0);
      return r.stdout;
    };
    const deploy = () =>
      cairn(['deploy', 'items', '--env', 'dev', '--image', 'items', '--wait', '--timeout', '300s']);

    beforeAll(async () => {
      [dev, prod] = [await freePort(), await freePort()];
      ws = new HelloWorkspace(spec(dev, prod));
      cpSync(join(REPO_ROOT, 'test', 'fixtures', 'json-server'), join(ws.dir, 'app'), { recursive: true });
      mkdirSync(join(ws.dir, 'config'), { recursive: true });
      writeFileSync(join(ws.dir, 'config', 'routes-dev.json'), '{ "/dev/*": "/$1" }\n');
      writeFileSync(join(ws.dir, 'config', 'routes-prod.json'), '{ "/prod/*": "/$1" }\n');
      for (const args of [['init'], ['build', 'items'], ['up', '--detach', '--driver', 'runc']])
        await cairn(args);
    }, STEP_MS);

    afterAll(() => ws?.cleanup(), STEP_MS);

    it(
      'Given json-server built from npm, When deployed, Then it serves on its own port 3000 and keeps a POSTed row',
      async () => {
        await deploy();
        const created = await post(dev, 'first');
        expect(created.status).toBe(201);
        expect(await titles(dev)).toEqual(['json-server', 'first']);
        expect((await fetch(`http://127.0.0.1:${dev}/dev/profile`)).status).toBe(200);
        expect((await fetch(`http://127.0.0.1:${dev}/prod/profile`)).status).toBe(404);
      },
      STEP_MS,
    );

    it(
      'When v2 is rolled out by canary and rolled back, Then the row is there throughout',
      async () => {
        ws.edit('APP_VERSION: v1', 'APP_VERSION: v2');
        await cairn(['build', 'items']);
        await deploy();
        expect(await kept(dev)).toBe(true);
        await cairn(['rollback', 'items', '--env', 'dev', '--wait']);
        expect(await kept(dev)).toBe(true);
      },
      STEP_MS,
    );

    it(
      'When a file of its bundle is tampered with, Then drift replaces the instance and the row is still there',
      async () => {
        const bundles = join(ws.dir, '.cairn', 'bundles');
        const replacements = async () =>
          (await audit(ws)).filter((e) => e.action === 'instance.replace' || e.action === 'drift.replaced')
            .length;
        const before = await replacements();
        for (const hex of readdirSync(bundles).filter((n) => /^[0-9a-f]{64}$/.test(n))) {
          const file = join(bundles, hex, 'rootfs', 'app', 'package.json');
          if (existsSync(file)) appendByte(file);
        }
        expect(await waitFor(async () => (await replacements()) > before, 60_000, 500)).toBe(true);
        expect(await waitFor(() => kept(dev), 60_000)).toBe(true);
      },
      STEP_MS,
    );

    it(
      'When the control plane and its instances go down and up again, Then the row is still there',
      async () => {
        await cairn(['down']);
        await cairn(['up', '--detach', '--driver', 'runc']);
        expect(await waitFor(() => kept(dev), 120_000, 500)).toBe(true);
        expect(await cairn(['volume', 'ls'])).toContain('items-data');
      },
      STEP_MS,
    );

    it(
      "When the release is promoted to prod, Then it runs with prod's own setting (read-only), routes file and volume",
      async () => {
        await cairn(['promote', 'items', '--from', 'dev', '--to', 'prod', '--wait']);
        expect(await titles(prod)).toEqual(['json-server']);
        expect((await post(prod, 'nope')).status).toBe(403);
        expect((await fetch(`http://127.0.0.1:${prod}/prod/profile`)).status).toBe(200);
        expect((await fetch(`http://127.0.0.1:${prod}/dev/profile`)).status).toBe(404);
      },
      STEP_MS,
    );
  },
);
