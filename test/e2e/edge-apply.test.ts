/**
 * Runbook: a route added to cairn.yaml takes effect through `cairn apply` — planned, applied in
 * place, audited — on both gateway engines. hello serves under steady load. A new route with a
 * rate limit is added: before `apply` it is not enforced (the old routes serve), `apply --dry-run`
 * shows it and changes nothing, `apply` enforces it while the listener never closes (same gateway
 * process, not one failed request of the load), and the audit log holds edge.applied. A new
 * listen address is refused with nothing changed. A route removed while the control plane is down
 * is applied in place by the next `cairn up`, again on the same gateway process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Load } from '../../scripts/load.mjs';
import { detectDrivers } from '../../src/runtime/index.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const STEP_MS = 300_000;
const runcUsable = detectDrivers().some((d) => d.kind === 'runc' && d.usable);
const LIMITED = '  - { host: "*", path: /limited, service: hello, rateLimit: { rps: 1, burst: 2 } }\n';

describe.runIf(runcUsable).each(['builtin', 'haproxy'] as const)(
  'cairn apply: routes in place, planned and audited (%s engine)',
  (engine) => {
    let ws: HelloWorkspace;
    let port: number;
    let load: Load;
    let loadFrom = 0;
    const failed = () =>
      JSON.stringify(
        load.samples.filter((x) => x.at >= loadFrom && !(x.status >= 200 && x.status < 300)).slice(0, 5),
      );
    const gatewayPid = () => readFileSync(join(ws.dir, '.cairn', 'run', 'gateway-dev.pid'), 'utf8').trim();
    /** Status codes of a quick burst to /limited. */
    const burst = async () => {
      const codes: number[] = [];
      for (let i = 0; i < 8; i++) codes.push((await fetch(`http://127.0.0.1:${port}/limited`)).status);
      return codes;
    };

    beforeAll(async () => {
      port = await freePort();
      ws = new HelloWorkspace(helloSpec(port, '{ strategy: bluegreen }', engine));
      for (const args of [
        ['init'],
        ['build', 'hello'],
        ['up', '--detach', '--driver', 'runc'],
        ['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '180s'],
      ]) {
        const r = await ws.runAsync(args, STEP_MS);
        expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
      loadFrom = Date.now();
      load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 4 }).start(10 * 60_000);
    }, STEP_MS);

    afterAll(async () => {
      await load?.stop();
      ws?.cleanup();
    }, STEP_MS);

    it(
      'Given a new rate-limited route in cairn.yaml, When not yet applied, Then it is not enforced and --dry-run shows it',
      async () => {
        ws.edit('routes:\n', `routes:\n${LIMITED}`);
        expect((await burst()).every((c) => c === 200)).toBe(true);
        const dry = await ws.runAsync(['apply', '--dry-run']);
        expect(dry.code, dry.stderr).toBe(0);
        expect(dry.stdout).toContain('+   route (dev) */limited → hello {"rateLimit":{"rps":1,"burst":2}}');
        expect((await burst()).every((c) => c === 200)).toBe(true);
      },
      STEP_MS,
    );

    it(
      'When applied, Then the limit holds at once, on the same gateway process, without a failed request',
      async () => {
        const pid = gatewayPid();
        const r = await ws.runAsync(['apply']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain('Applied 1 edge change(s).');
        expect((await burst()).filter((c) => c === 429).length).toBeGreaterThan(0);
        expect(gatewayPid()).toBe(pid);
        const log = await ws.runAsync(['audit', 'log', '-o', 'json']);
        expect(log.stdout).toContain('edge.applied');
        const again = await ws.runAsync(['apply']);
        expect(again.stdout).toMatch(/^No edge changes/);
        expect(load.summary(loadFrom, Date.now()).failures, failed()).toBe(0);
      },
      STEP_MS,
    );

    it(
      'When the listen address changes, Then apply refuses it, exit 1, and nothing changes',
      async () => {
        const other = await freePort();
        ws.edit(`127.0.0.1:${port}`, `127.0.0.1:${other}`);
        const r = await ws.runAsync(['apply']);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("the dev gateway's listen changed");
        expect(r.stderr).toContain('hint:');
        ws.edit(`127.0.0.1:${other}`, `127.0.0.1:${port}`);
        expect((await burst()).filter((c) => c === 429).length).toBeGreaterThan(0);
      },
      STEP_MS,
    );

    it(
      'Given the route removed while the control plane is down, When cairn up runs, Then it applies it in place to the same gateway',
      async () => {
        const pid = gatewayPid();
        expect((await ws.runAsync(['down', '--keep-instances'])).code).toBe(0);
        ws.edit(LIMITED, '');
        const up = await ws.runAsync(['up', '--detach', '--driver', 'runc'], STEP_MS);
        expect(up.code, up.stderr).toBe(0);
        expect(gatewayPid()).toBe(pid);
        expect((await burst()).every((c) => c === 200)).toBe(true);
        const log = await ws.runAsync(['audit', 'log', '-o', 'json']);
        expect(log.stdout.match(/edge\.applied/g)?.length).toBe(2);
        expect(load.summary(loadFrom, Date.now()).failures, failed()).toBe(0);
      },
      STEP_MS,
    );
  },
);
