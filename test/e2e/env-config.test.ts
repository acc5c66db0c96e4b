/**
 * Runbook: one image, configured per environment. hello reads UPSTREAM_URL and the file
 * /etc/app/config.json, which dev and prod set differently under services.hello.environments. `plan`
 * shows each environment's value and file digest; a deploy to dev serves dev's value and file; a
 * promotion to prod runs the same image digest as a release of its own that serves prod's, through
 * prod's predecessor gate; the file is read-only inside the instance; the audit log records the
 * variables and file digests each release started with; an edit of prod's file changes nothing
 * that runs (the content was pinned at deploy) and plans a replacement of prod only, as does a
 * change to prod's value.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFileCopyOf, detectDrivers } from '../../src/runtime/index.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';
import { waitFor } from './drift-helpers.js';

const STEP_MS = 300_000;
const runcUsable = detectDrivers().some((d) => d.kind === 'runc' && d.usable);

const PROBE = `import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
const CONFIG = '/etc/app/config.json';
const config = () => { try { return JSON.parse(readFileSync(CONFIG, 'utf8')); } catch (e) { return e.code; } };
const tamper = () => { try { writeFileSync(CONFIG, '{"tampered":true}'); return 'written'; } catch (e) { return e.code; } };
const server = createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok\\n');
  const body = req.url === '/write' ? { write: tamper(), config: config() }
    : { upstream: process.env.UPSTREAM_URL ?? 'unset', level: process.env.LOG_LEVEL ?? 'unset', config: config() };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\\n');
});
server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;

interface Target {
  env: string;
  service: string;
  release: string;
  image: string;
}

describe.runIf(runcUsable)(
  'per-environment configuration: one image, a release per environment (real runc)',
  () => {
    let ws: HelloWorkspace;
    let dev: number;
    let prod: number;
    const served = async (port: number, path = '/') =>
      (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as Record<string, unknown>;
    const targets = async (env: string): Promise<Target[]> => {
      const r = await ws.runAsync(['status', '--env', env, '-o', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const status = JSON.parse(r.stdout) as { services: Array<Record<string, unknown>> };
      return status.services.map((s) => ({
        env,
        service: String(s.service),
        release: String(s.release ?? s.releaseId),
        image: String(s.image ?? s.imageDigest),
      }));
    };

    beforeAll(async () => {
      [dev, prod] = [await freePort(), await freePort()];
      ws = new HelloWorkspace(
        helloSpec(dev, '{ strategy: bluegreen, scaleDownDelayMs: 1h }')
          .replace('entrypoint: ["node", "server.js"]', 'entrypoint: ["node", "probe.js"]')
          .replace('replicas: 2', 'replicas: 1')
          .replace(
            'environments:\n',
            `    environments:
      dev:
        env: { UPSTREAM_URL: "http://127.0.0.1:4000" }
        files: { /etc/app/config.json: ./config/app-dev.json }
      prod:
        env: { UPSTREAM_URL: "https://api.example.com", LOG_LEVEL: warn }
        files: { /etc/app/config.json: ./config/app-prod.json }
environments:
  prod: { after: dev, drift: { mode: warn, intervalMs: 1h, fastPath: false }, gateway: { listen: "127.0.0.1:${prod}" } }
`,
          ),
      );
      writeFileSync(join(ws.dir, 'app', 'probe.js'), PROBE);
      mkdirSync(join(ws.dir, 'config'), { recursive: true });
      writeFileSync(join(ws.dir, 'config', 'app-dev.json'), '{"db":"dev.sqlite","features":["beta"]}\n');
      writeFileSync(join(ws.dir, 'config', 'app-prod.json'), '{"db":"prod.sqlite","features":[]}\n');
      for (const args of [['init'], ['build', 'hello'], ['up', '--detach', '--driver', 'runc']]) {
        const r = await ws.runAsync(args, STEP_MS);
        expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
    }, STEP_MS);

    afterAll(() => ws?.cleanup(), STEP_MS);

    it(
      'Given two environments with their own UPSTREAM_URL, When planned, Then each shows its own value',
      async () => {
        const r = await ws.runAsync(['plan', '-o', 'json']);
        expect(r.code, r.stderr).toBe(0);
        const plan = JSON.parse(r.stdout) as {
          items: Array<{ env: string; changes: Array<{ path: string; after?: unknown }> }>;
        };
        const value = (env: string) =>
          plan.items.find((i) => i.env === env)?.changes.find((c) => c.path === 'run.env.UPSTREAM_URL')
            ?.after;
        expect(value('dev')).toBe('http://127.0.0.1:4000');
        expect(value('prod')).toBe('https://api.example.com');
        const file = (env: string) =>
          plan.items
            .find((i) => i.env === env)
            ?.changes.find((c) => c.path === 'run.files./etc/app/config.json')?.after;
        expect(file('dev')).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(file('prod')).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(file('prod')).not.toBe(file('dev'));
      },
      STEP_MS,
    );

    it(
      'When deployed to dev and promoted to prod, Then each serves its own value from the same image digest',
      async () => {
        const d = await ws.runAsync(
          ['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '180s'],
          STEP_MS,
        );
        expect(d.code, d.stderr).toBe(0);
        expect(await served(dev)).toEqual({
          upstream: 'http://127.0.0.1:4000',
          level: 'unset',
          config: { db: 'dev.sqlite', features: ['beta'] },
        });

        const p = await ws.runAsync(['promote', 'hello', '--from', 'dev', '--to', 'prod', '--wait'], STEP_MS);
        expect(p.code, p.stderr).toBe(0);
        expect(await served(prod)).toEqual({
          upstream: 'https://api.example.com',
          level: 'warn',
          config: { db: 'prod.sqlite', features: [] },
        });

        const [inDev] = await targets('dev');
        const [inProd] = await targets('prod');
        expect(inProd!.image).toBe(inDev!.image);
        expect(inProd!.release).not.toBe(inDev!.release);
      },
      STEP_MS,
    );

    it(
      'When the instance tries to write its configuration file, Then the write fails and the file is unchanged',
      async () => {
        expect(await served(prod, '/write')).toEqual({
          write: 'EROFS',
          config: { db: 'prod.sqlite', features: [] },
        });
      },
      STEP_MS,
    );

    it(
      "When the host copy of prod's file is altered, Then drift names the file (it was in sync before)",
      async () => {
        const drift = async () => {
          const r = await ws.runAsync(['drift', '--env', 'prod', '-o', 'json']);
          expect([0, 2], r.stderr).toContain(r.code);
          return JSON.parse(r.stdout) as {
            inSync: boolean;
            instances: Array<{ instance: string; verdict: { reasons?: Array<{ path?: string }> } }>;
          };
        };
        const before = await drift();
        expect(before.inSync).toBe(true);
        const copy = configFileCopyOf(
          { runtimeDir: join(ws.dir, '.cairn', 'runtime') },
          before.instances[0]!.instance,
          '/etc/app/config.json',
        );
        chmodSync(copy, 0o644);
        writeFileSync(copy, '{"db":"evil.sqlite"}\n');
        const after = await drift();
        expect(after.inSync).toBe(false);
        expect(after.instances[0]!.verdict.reasons?.map((r) => r.path)).toEqual([
          'configuration file /etc/app/config.json',
        ]);
        writeFileSync(copy, '{"db":"prod.sqlite","features":[]}\n');
        expect((await drift()).inSync).toBe(true);
      },
      STEP_MS,
    );

    it(
      'Then the audit log records the variables each release started with, and plan shows no change',
      async () => {
        const log = await ws.runAsync(['audit', 'log', '-o', 'json']);
        expect(log.code, log.stderr).toBe(0);
        expect(log.stdout).toContain('https://api.example.com');
        expect(log.stdout).toContain('http://127.0.0.1:4000');
        const started = (
          JSON.parse(log.stdout) as { entries: Array<{ action: string; detail?: { files?: object } }> }
        ).entries
          .filter((e) => e.action === 'deploy.started')
          .map((e) => e.detail?.files);
        expect(started).toHaveLength(2);
        expect(started.every((f) => /^sha256:[0-9a-f]{64}$/.test(String(Object.values(f ?? {})[0])))).toBe(
          true,
        );
        const plan = await ws.runAsync(['plan', '-o', 'json']);
        const items = (
          JSON.parse(plan.stdout) as { items: Array<{ env: string; changes: Array<{ path: string }> }> }
        ).items;
        expect(items.flatMap((i) => i.changes.filter((c) => /^run\.(env|files)/.test(c.path)))).toEqual([]);
      },
      STEP_MS,
    );

    it(
      "When prod's configuration file is edited, Then prod keeps serving the pinned content and plan replaces prod only, by a short digest",
      async () => {
        writeFileSync(join(ws.dir, 'config', 'app-prod.json'), '{"db":"prod2.sqlite","features":[]}\n');
        expect((await served(prod)).config).toEqual({ db: 'prod.sqlite', features: [] });
        const json = await ws.runAsync(['plan', '-o', 'json']);
        const items = (
          JSON.parse(json.stdout) as {
            items: Array<{ env: string; action: string; changes: Array<{ path: string }> }>;
          }
        ).items.filter((i) => i.changes.some((c) => c.path === 'run.files./etc/app/config.json'));
        expect(items.map((i) => `${i.env} ${i.action}`)).toEqual(['prod replace']);
        const text = await ws.runAsync(['plan', '--env', 'prod']);
        expect(text.stdout).toMatch(
          /run\.files\.\/etc\/app\/config\.json: sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}\n/,
        );
        expect(text.stdout).not.toContain('prod2.sqlite');
      },
      STEP_MS,
    );

    it(
      "When prod's instance dies after the edit, Then its replacement gets the pinned content, not the edited file",
      async () => {
        const live = async () => {
          const r = await ws.runAsync(['status', '--env', 'prod', '-o', 'json']);
          const s = JSON.parse(r.stdout) as {
            services: Array<{ instances: Array<{ id: string; state: string }> }>;
          };
          return (s.services[0]?.instances ?? []).filter(
            (i) => i.state === 'serving' || i.state === 'healthy',
          );
        };
        const [victim] = await live();
        expect(victim).toBeDefined();
        execFileSync('runc', [
          '--root',
          join(ws.dir, '.cairn', 'runtime', 'runc'),
          'kill',
          victim!.id,
          'KILL',
        ]);
        const fresh = await waitFor(async () => {
          const now = await live();
          return now.length > 0 && now.every((i) => i.id !== victim!.id) ? now : undefined;
        }, 60_000);
        expect(fresh, 'a replacement serves prod').toBeDefined();
        expect((await served(prod)).config).toEqual({ db: 'prod.sqlite', features: [] });
      },
      STEP_MS,
    );

    it(
      "When prod's value changes, Then plan replaces prod only, naming the variable",
      async () => {
        ws.edit('https://api.example.com', 'https://api2.example.com');
        const r = await ws.runAsync(['plan', '-o', 'json']);
        const plan = JSON.parse(r.stdout) as {
          items: Array<{
            env: string;
            action: string;
            changes: Array<{ path: string; before?: unknown; after?: unknown }>;
          }>;
        };
        const envChanges = plan.items.filter((i) => i.changes.some((c) => c.path.startsWith('run.env')));
        expect(envChanges.map((i) => `${i.env} ${i.action}`)).toEqual(['prod replace']);
        expect(JSON.stringify(envChanges[0]!.changes)).toContain('https://api2.example.com');
      },
      STEP_MS,
    );
  },
);
