/**
 * Runbook: a secret is stored encrypted, injected at deploy, rotated by a release, and found nowhere
 * else. A service reads DB_PASSWORD from a file and from its environment and answers with a hash of
 * each. A deploy before the secret exists fails naming it; with a random 32-byte value it serves;
 * a rotation is a new release (same image) rolled out under load without a failed request, and a
 * rollback brings the pinned old version back. Then every file under .cairn/, every CLI output and
 * every API response is searched for both values, their base64 and hex: no hit.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  renameSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Load } from '../../scripts/load.mjs';
import { detectDrivers, privateDirOf } from '../../src/runtime/index.js';
import type { CliResult } from '../helpers/cli.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const STEP_MS = 300_000;
const TMPFS_MAGIC = 0x01021994;
const runcUsable = detectDrivers().some((d) => d.kind === 'runc' && d.usable);

/** The service: its answer names the hash of the secret it was given, as file and as env. */
const PROBE = `import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
const hash = (v) => (v === undefined ? 'missing' : createHash('sha256').update(v).digest('hex').slice(0, 16));
let file;
try { file = readFileSync(process.env.CAIRN_SECRETS_DIR + '/db-password'); } catch {}
const body = JSON.stringify({ version: hash(file), env: hash(process.env.DB_PASSWORD) }) + '\\n';
const server = createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok\\n');
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
});
server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;

const short = (v: string) => createHash('sha256').update(v).digest('hex').slice(0, 16);
const forms = (v: string) => [v, Buffer.from(v).toString('base64'), Buffer.from(v).toString('hex')];

/** Every regular file under `dir`, recursively (sockets and links skipped). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return filesUnder(path);
    return e.isFile() ? [path] : [];
  });
}

describe.runIf(runcUsable)(
  'secrets: injected at deploy, rotated by a release, never leaked (real runc)',
  () => {
    let ws: HelloWorkspace;
    let port: number;
    let load: Load;
    const outputs: CliResult[] = [];
    const cairn = async (args: string[], input?: string) => {
      const r = await ws.runAsync(args, STEP_MS, input);
      outputs.push(r);
      return r;
    };
    const deploy = () =>
      cairn(['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '180s']);
    const served = async () =>
      (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { version: string; env: string };
    const first = randomBytes(32).toString('base64url');
    const second = randomBytes(32).toString('base64url');

    beforeAll(async () => {
      port = await freePort();
      ws = new HelloWorkspace(
        helloSpec(port, '{ strategy: bluegreen, scaleDownDelayMs: 1h }')
          .replace('entrypoint: ["node", "server.js"]', 'entrypoint: ["node", "probe.js"]')
          .replace(
            'tmpfs: [/tmp]',
            'tmpfs: [/tmp]\n      secrets: [{ name: DB_PASSWORD, env: DB_PASSWORD, file: db-password }]',
          ),
      );
      writeFileSync(join(ws.dir, 'app', 'probe.js'), PROBE);
      for (const args of [['init'], ['build', 'hello'], ['up', '--detach', '--driver', 'runc']]) {
        const r = await cairn(args);
        expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
    }, STEP_MS);

    afterAll(async () => {
      await load?.stop();
      ws?.cleanup();
    }, STEP_MS);

    it(
      'Given no value for DB_PASSWORD, When hello is deployed, Then it exits 1 naming the secret and the service, and nothing starts',
      async () => {
        const r = await deploy();
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('deploying hello: secret DB_PASSWORD has no value');
        expect(r.stderr).toContain('cairn secret set DB_PASSWORD');
        const status = JSON.parse((await cairn(['status', '--env', 'dev', '-o', 'json'])).stdout) as {
          services: unknown[];
        };
        expect(status.services).toEqual([]);
        const argv = await cairn(['secret', 'set', 'DB_PASSWORD', 'not-a-real-value']);
        expect(argv.code).toBe(1);
        expect(argv.stderr).toContain('refusing a value on the command line');
      },
      STEP_MS,
    );

    it(
      'When a random value is stored and hello deployed, Then the instance has it as a 0400 file on tmpfs and as env',
      async () => {
        expect((await cairn(['secret', 'set', 'DB_PASSWORD'], first)).code).toBe(0);
        const r = await deploy();
        expect(r.code, r.stderr).toBe(0);
        expect(await served()).toEqual({ version: short(first), env: short(first) });
        const { instances } = JSON.parse((await cairn(['ps', '--env', 'dev', '-o', 'json'])).stdout) as {
          instances: Array<{ id: string }>;
        };
        const secretFile = join(
          privateDirOf({ runtimeDir: join(ws.dir, '.cairn', 'runtime') }, instances[0]!.id),
          'secrets',
          'db-password',
        );
        expect(statSync(secretFile).mode & 0o777).toBe(0o400);
        expect(statSync(secretFile).uid).not.toBe(0);
        expect(statfsSync(secretFile).type).toBe(TMPFS_MAGIC);
      },
      STEP_MS,
    );

    it(
      'When the secret is rotated, Then plan shows the new version, and a deploy rolls a new release of the same image out under load with no failed request',
      async () => {
        expect((await cairn(['secret', 'rotate', 'DB_PASSWORD'], second)).code).toBe(0);
        const plan = await cairn(['plan', '--env', 'dev', '--detailed-exitcode']);
        expect(plan.code, plan.stderr).toBe(2);
        expect(plan.stdout).toContain('must be replaced');
        expect(plan.stdout).toMatch(
          /run\.secrets: \[\{"name":"DB_PASSWORD",[^\n]*"version":"v1"\}\] → \[[^\n]*"version":"v2"\}\]/,
        );
        load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 4 }).start(5 * 60_000);
        const from = Date.now();
        const r = await deploy();
        expect(r.code, r.stderr).toBe(0);
        await new Promise((res) => setTimeout(res, 1000));
        const during = load.summary(from, Date.now());
        expect(during.failures).toBe(0);
        expect(Object.keys(during.versions)).toContain(short(second));
        expect(await served()).toEqual({ version: short(second), env: short(second) });
        const { deployments } = JSON.parse(
          (await cairn(['history', 'hello', '--env', 'dev', '-o', 'json'])).stdout,
        ) as {
          deployments: Array<{ to: string }>;
        };
        expect(new Set(deployments.map((d) => d.to)).size).toBe(2);
      },
      STEP_MS,
    );

    it(
      'When rolled back, Then the old release gets the version it pinned (v1), without a failed request',
      async () => {
        const from = Date.now();
        const r = await cairn(['rollback', 'hello', '--env', 'dev', '--wait']);
        expect(r.code, r.stderr).toBe(0);
        await new Promise((res) => setTimeout(res, 1000));
        expect(load.summary(from, Date.now()).failures).toBe(0);
        expect(await served()).toEqual({ version: short(first), env: short(first) });
        await load.stop();
      },
      STEP_MS,
    );

    it(
      'Then no file under .cairn/, no CLI output and no API response holds either value, its base64 or its hex',
      async () => {
        const api = JSON.parse(readFileSync(join(ws.dir, '.cairn', 'api.json'), 'utf8')) as { url: string };
        const token = readFileSync(join(ws.dir, '.cairn', 'api-token'), 'utf8').trim();
        const responses: string[] = [];
        for (const path of [
          '/v1/status',
          '/v1/status?env=dev',
          '/v1/history?service=hello&env=dev',
          '/metrics',
        ]) {
          const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
          responses.push(await res.text());
        }
        for (const args of [
          ['audit', 'log', '-o', 'json'],
          ['inspect', 'hello', '-o', 'json'],
          ['drift', '--env', 'dev', '-o', 'json'],
          ['secret', 'list', '-o', 'json'],
          ['logs', 'hello', '--env', 'dev'],
        ]) {
          await cairn(args);
        }
        const needles = [...forms(first), ...forms(second)].map((n) => Buffer.from(n));
        const hitsIn = (files: string[]) =>
          files.filter((f) => needles.some((n) => readFileSync(f).includes(n)));
        // The search finds what is there: the running instances' private folders (in memory) hold the value.
        const privateRoot = join(privateDirOf({ runtimeDir: join(ws.dir, '.cairn', 'runtime') }, 'x'), '..');
        expect(hitsIn(filesUnder(privateRoot)).length).toBeGreaterThan(0);
        const hits: string[] = [];
        const files = filesUnder(join(ws.dir, '.cairn'));
        expect(files.length).toBeGreaterThan(50);
        for (const file of files) {
          if (!existsSync(file) || !lstatSync(file).isFile()) continue;
          const bytes = readFileSync(file);
          if (needles.some((n) => bytes.includes(n))) hits.push(file);
        }
        const texts = [...outputs.flatMap((o) => [o.stdout, o.stderr]), ...responses];
        texts.forEach((t, i) => {
          if (needles.some((n) => t.includes(n.toString()))) hits.push(`output ${i}: ${t.slice(0, 80)}`);
        });
        expect(hits).toEqual([]);
      },
      STEP_MS,
    );

    it(
      'Given the store key missing, When the secret is rotated or a plan made, Then each exits 1 naming the key, makes no new key, and nothing changes',
      async () => {
        const key = join(ws.dir, '.cairn', 'keys', 'secrets.key');
        renameSync(key, `${key}.away`);
        try {
          for (const args of [
            ['secret', 'rotate', 'DB_PASSWORD', '--generate'],
            ['plan', '--env', 'dev'],
          ]) {
            const r = await cairn(args);
            expect(r.code, args.join(' ')).toBe(1);
            expect(r.stderr).toContain('reading the secret store key: keys/secrets.key does not exist');
            expect(r.stderr).not.toContain('internal error');
          }
          expect(existsSync(key)).toBe(false);
        } finally {
          renameSync(`${key}.away`, key);
        }
        expect((await cairn(['secret', 'list'])).stdout).toMatch(/DB_PASSWORD\s+v2\s+2/);
      },
      STEP_MS,
    );

    it(
      'When cairn down runs, Then no private folder of an instance is left in memory',
      async () => {
        expect((await cairn(['down'])).code).toBe(0);
        const root = join(privateDirOf({ runtimeDir: join(ws.dir, '.cairn', 'runtime') }, 'x'), '..');
        expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
      },
      STEP_MS,
    );
  },
);
