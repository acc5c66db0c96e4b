/**
 * Runbook: one image, configured per environment. hello reads UPSTREAM_URL, which dev and prod
 * set differently under services.hello.environments. `plan` shows each environment's value; a
 * deploy to dev serves dev's value; a promotion to prod runs the same image digest as a release
 * of its own that serves prod's value, through prod's predecessor gate; the audit log records
 * the variables each release started with; a change to prod's value plans a replacement of prod
 * only.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDrivers } from '../../src/runtime/index.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const STEP_MS = 300_000;
const runcUsable = detectDrivers().some((d) => d.kind === 'runc' && d.usable);

const PROBE = `import { createServer } from 'node:http';
const body = JSON.stringify({ upstream: process.env.UPSTREAM_URL ?? 'unset', level: process.env.LOG_LEVEL ?? 'unset' }) + '\\n';
const server = createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok\\n');
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
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
    const served = async (port: number) =>
      (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as object;
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
      dev: { env: { UPSTREAM_URL: "http://127.0.0.1:4000" } }
      prod: { env: { UPSTREAM_URL: "https://api.example.com", LOG_LEVEL: warn } }
environments:
  prod: { after: dev, gateway: { listen: "127.0.0.1:${prod}" } }
`,
          ),
      );
      writeFileSync(join(ws.dir, 'app', 'probe.js'), PROBE);
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
        expect(await served(dev)).toEqual({ upstream: 'http://127.0.0.1:4000', level: 'unset' });

        const p = await ws.runAsync(['promote', 'hello', '--from', 'dev', '--to', 'prod', '--wait'], STEP_MS);
        expect(p.code, p.stderr).toBe(0);
        expect(await served(prod)).toEqual({ upstream: 'https://api.example.com', level: 'warn' });

        const [inDev] = await targets('dev');
        const [inProd] = await targets('prod');
        expect(inProd!.image).toBe(inDev!.image);
        expect(inProd!.release).not.toBe(inDev!.release);
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
        const plan = await ws.runAsync(['plan', '-o', 'json']);
        const items = (
          JSON.parse(plan.stdout) as { items: Array<{ env: string; changes: Array<{ path: string }> }> }
        ).items;
        expect(items.flatMap((i) => i.changes.filter((c) => c.path.startsWith('run.env')))).toEqual([]);
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
