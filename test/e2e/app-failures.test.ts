/**
 * Runbook: a release that cannot get healthy says why, at once, and is not retried forever (real
 * runc). An app that exits at once fails `deploy --wait` within 30 s, printing the probe or exit
 * reason and the app's last stderr line; one listening on the wrong port names the address and
 * "connection refused"; one whose entrypoint does not exist is not retried at all. And apps
 * without /healthz pass with `health.maxStatus` or `health.tcp`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDrivers, hostNetworkSupport } from '../../src/runtime/index.js';
import type { CliResult } from '../helpers/cli.js';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';

const STEP_MS = 300_000;
const usable = detectDrivers().some((d) => d.kind === 'runc' && d.usable) && hostNetworkSupport().ok;
if (!usable) console.warn('runc, root, iproute2 and nftables are needed: app failure e2e skipped');

const CRASH = `console.log('starting');
console.error('fatal: cannot open database /var/db/app.sqlite');
process.exit(1);
`;
const WRONG_PORT = `require('node:http').createServer((q, s) => s.end('ok')).listen(9999);
process.on('SIGTERM', () => process.exit(0));
`;
/** An app with no /healthz: / answers 404 for every path. */
const NO_HEALTHZ = `require('node:http').createServer((q, s) => { if (q.url !== '/') console.log('GET ' + q.url); s.statusCode = 404; s.end('not found'); }).listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`;
/** Not HTTP at all: a line-protocol server. */
const RAW_TCP = `require('node:net').createServer((c) => c.end('hello\\\\n')).listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`;

const service = (name: string, file: string, run: string, entry = `"node", "${file}"`) => `  ${name}:
    build:
      context: ./app
      include: ["${file}"]
      entrypoint: [${entry}]
    run:
      port: 4400
${run}
`;

const spec = (gateway: string) => `project: failures
services:
${service('crash', 'crash.js', '      health: { path: /healthz, intervalMs: 200, timeoutMs: 500 }')}${service('wrongport', 'wrong-port.js', '      health: { path: /healthz, intervalMs: 200, timeoutMs: 500, startPeriodMs: 2s, unhealthyThreshold: 2 }')}${service('noentry', 'crash.js', '      health: { path: /healthz, intervalMs: 200, timeoutMs: 500 }', '"nodejs-not-here", "crash.js"')}${service('nohealthz', 'no-healthz.js', '      replicas: 2\n      health: { path: /, maxStatus: 499, intervalMs: 200, timeoutMs: 500 }')}${service('raw', 'raw-tcp.js', '      health: { tcp: true, intervalMs: 200, timeoutMs: 500 }')}environments:
  dev: { gateway: { listen: "${gateway}" } }
routes:
  - { host: "*", path: /, service: nohealthz }
`;

interface AuditEntry {
  action: string;
  subject: { service?: string };
}

describe.runIf(usable)('failures that say why (real runc)', () => {
  let ws: HelloWorkspace;
  let gateway: string;
  const cairn = (args: string[]): Promise<CliResult> => ws.runAsync(args, STEP_MS);
  const ok = async (args: string[]) => {
    const r = await cairn(args);
    expect(r.code, `cairn ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
    return r;
  };
  const deploy = (name: string) =>
    cairn(['deploy', name, '--env', 'dev', '--image', name, '--wait', '--timeout', '120s']);
  const starts = async (name: string) =>
    (
      JSON.parse((await ok(['audit', 'log', '--output', 'json'])).stdout) as { entries: AuditEntry[] }
    ).entries.filter(
      (e) => (e.action === 'instance.start' || e.action === 'instance.replace') && e.subject.service === name,
    ).length;

  beforeAll(async () => {
    gateway = `127.0.0.1:${await freePort()}`;
    ws = new HelloWorkspace(spec(gateway));
    writeFileSync(join(ws.dir, 'app', 'crash.js'), CRASH);
    writeFileSync(join(ws.dir, 'app', 'wrong-port.js'), WRONG_PORT);
    writeFileSync(join(ws.dir, 'app', 'no-healthz.js'), NO_HEALTHZ);
    writeFileSync(join(ws.dir, 'app', 'raw-tcp.js'), RAW_TCP);
    await ok(['init']);
    for (const name of ['crash', 'wrongport', 'noentry', 'nohealthz', 'raw']) await ok(['build', name]);
    await ok(['up', '--detach', '--driver', 'runc']);
  }, STEP_MS);

  afterAll(() => ws?.cleanup(), STEP_MS);

  it(
    'Given an app that exits at once, When it is deployed with --wait, Then it fails within 30 s naming the exit and its last stderr line, and is not restarted again and again',
    async () => {
      const started = Date.now();
      const r = await deploy('crash');
      const tookMs = Date.now() - started;
      console.log(`crash: deploy --wait failed after ${tookMs} ms`);
      expect(r.code).toBe(1);
      expect(tookMs).toBeLessThan(30_000);
      expect(r.stdout).toMatch(
        /! ins-\S+ failed: the process exited; it last wrote: .*fatal: cannot open database \/var\/db\/app\.sqlite/,
      );
      expect(r.stdout).toMatch(
        /: failed \(\w+\), weight 0% — new instances of rel-\S+ failed \d+ times; last: ins-\S+ failed: the process exited; it last wrote: .*fatal: cannot open database/,
      );
      const first = await starts('crash');
      expect(first).toBeLessThanOrEqual(3);
      await new Promise((done) => setTimeout(done, 5000));
      expect(await starts('crash')).toBe(first);
    },
    STEP_MS,
  );

  it(
    'Given an app listening on another port, When it is deployed, Then the failure names the address probed and "connection refused"',
    async () => {
      const started = Date.now();
      const r = await deploy('wrongport');
      console.log(`wrongport: deploy --wait failed after ${Date.now() - started} ms`);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/! ins-\S+: GET http:\/\/10\.\d+\.\d+\.\d+:4400\/healthz: connection refused/);
      expect(r.stdout).toMatch(
        /health checks failed in a row \(GET http:\/\/\S+:4400\/healthz: connection refused/,
      );
    },
    STEP_MS,
  );

  it(
    'Given an entrypoint that is not in the image, When it is deployed, Then the rollout fails at once with the reason and the start is not retried',
    async () => {
      const started = Date.now();
      const r = await deploy('noentry');
      const tookMs = Date.now() - started;
      console.log(`noentry: deploy --wait failed after ${tookMs} ms`);
      expect(r.code).toBe(1);
      expect(tookMs).toBeLessThan(30_000);
      expect(r.stdout).toMatch(/cannot start, not retried: .*nodejs-not-here/);
      await new Promise((done) => setTimeout(done, 3000));
      expect(await starts('noentry')).toBe(0);
    },
    STEP_MS,
  );

  it(
    'Given apps without /healthz, When one is checked with maxStatus 499 and one with tcp, Then both become healthy',
    async () => {
      await ok(['deploy', 'nohealthz', '--env', 'dev', '--image', 'nohealthz', '--wait', '--timeout', '60s']);
      await ok(['deploy', 'raw', '--env', 'dev', '--image', 'raw', '--wait', '--timeout', '60s']);
    },
    STEP_MS,
  );

  it(
    'Given two instances of a service, When its logs are read by service, Then each line names its instance, and -f shows lines written later',
    async () => {
      const r = await ok(['logs', 'nohealthz', '--env', 'dev']);
      const ids = [...r.stdout.matchAll(/^(ins-\S+) \| listening on 4400$/gm)].map((m) => m[1]);
      expect(new Set(ids).size).toBe(2);
      const follow = ws.runAsync(['logs', 'nohealthz', '--env', 'dev', '-f'], 6000);
      await new Promise((done) => setTimeout(done, 2000));
      for (let i = 0; i < 4; i++) await fetch(`http://${gateway}/later-${i}`);
      const followed = await follow;
      expect(followed.stdout).toMatch(/^ins-\S+ \| listening on 4400$/m);
      for (let i = 0; i < 4; i++)
        expect(followed.stdout).toMatch(new RegExp(`^ins-\\S+ \\| GET /later-${i}$`, 'm'));
    },
    STEP_MS,
  );
});
