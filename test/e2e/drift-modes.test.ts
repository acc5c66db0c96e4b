/**
 * Runbook: drift modes and containers nobody recorded, under `cairn up` with real runc. In `warn`
 * mode a changed bundle file and a container started by hand are reported (audit log, status),
 * and nothing is replaced or stopped. Switched to `enforce`, a container started by hand next to
 * cairn's is reported `unknown` and stopped.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateDirOf } from '../../src/runtime/index.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';
import {
  appendByte,
  audit,
  deployHello,
  instances,
  ok,
  restartUp,
  runcRoot,
  runcUsable,
  SKIP_REASON,
  serverJs,
  status,
  waitFor,
} from './drift-helpers.js';

const SETUP_MS = 300_000;
const STEP_MS = 120_000;
const INTERVAL_MS = 1000;

if (!runcUsable) console.warn(SKIP_REASON);

describe.runIf(runcUsable)('drift modes in cairn up, real runc', () => {
  let ws: HelloWorkspace;
  const handMade: string[] = [];

  /** Starts a container by hand in cairn's runc root, from a copy of a running instance's config. */
  const startByHand = (id: string, from: string) => {
    const config = JSON.parse(
      readFileSync(
        join(privateDirOf({ runtimeDir: join(ws.dir, '.cairn', 'runtime') }, from), 'config.json'),
        'utf8',
      ),
    ) as { process: { args: string[] }; annotations?: unknown };
    config.process.args = ['node', '-e', 'setTimeout(() => {}, 300000)'];
    delete config.annotations;
    const dir = mkdtempSync(join(tmpdir(), 'cairn-drift-hand-'));
    handMade.push(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    execFileSync('runc', ['--root', runcRoot(ws), 'run', '--detach', '--bundle', dir, id], {
      stdio: 'ignore',
    });
  };
  const runcStatus = (id: string) => {
    const r = spawnSync('runc', ['--root', runcRoot(ws), 'state', id], { encoding: 'utf8' });
    return r.status === 0 ? (JSON.parse(r.stdout) as { status: string }).status : 'gone';
  };
  const ids = async () =>
    (await instances(ws))
      .map((i) => i.id)
      .sort()
      .join(',');

  beforeAll(async () => {
    ws = new HelloWorkspace(helloSpec(await freePort(), '{ strategy: rolling }'));
    ws.edit('dev: { gateway', `dev: { drift: { mode: warn, intervalMs: ${INTERVAL_MS} }, gateway`);
    await deployHello(ws);
  }, SETUP_MS);

  afterAll(() => {
    if (ws)
      for (const id of ['by-hand-1', 'by-hand-2'])
        spawnSync('runc', ['--root', runcRoot(ws), 'delete', '--force', id]);
    for (const dir of handMade) rmSync(dir, { recursive: true, force: true });
    ws?.cleanup();
  }, SETUP_MS);

  it(
    'Given warn mode, when a bundle file changes, then the drift is recorded and shown in status, and no instance is replaced',
    async () => {
      const view = (await status(ws)).drift[0]!;
      expect(view).toMatchObject({ env: 'dev', mode: 'warn', intervalMs: INTERVAL_MS, fastPath: true });
      const before = await ids();
      const file = serverJs(ws);
      const size = readFileSync(file).length;
      appendByte(file);
      const found = await waitFor(async () => {
        const d = (await status(ws)).drift[0]!;
        return d.lastCheck && d.lastCheck.notInSync === 2 && d;
      }, 20_000);
      expect(found, 'status shows 2 of 2 not in sync').toBeDefined();
      expect(await ok(ws, ['status'])).toMatch(/drift \(dev\): warn, .*2 of 2 instance\(s\) not in sync/);
      await sleep(3 * INTERVAL_MS);
      expect(await ids()).toBe(before);
      const detected = await audit(ws, 'drift.detected');
      // Recorded once per instance, not once per check.
      expect(detected.map((e) => e.actor)).toEqual(['cairn-up', 'cairn-up']);
      expect(await audit(ws, 'drift.replace')).toEqual([]);
      expect(await audit(ws, 'instance.replace')).toEqual([]);

      truncateSync(file, size);
      const clean = await waitFor(
        async () => (await status(ws)).drift[0]!.lastCheck?.notInSync === 0,
        20_000,
      );
      expect(clean).toBe(true);
    },
    STEP_MS,
  );

  it(
    'Given warn mode, when a container is started by hand, then it is reported unknown and left running',
    async () => {
      const [first] = await instances(ws);
      startByHand('by-hand-1', first!.id);
      const seen = await waitFor(
        async () => (await audit(ws, 'drift.detected')).find((e) => e.subject.instance === 'by-hand-1'),
        20_000,
      );
      expect(seen?.reason).toBe('by-hand-1 runs, but the state store has no live instance by that id');
      await sleep(3 * INTERVAL_MS + 3000);
      expect(runcStatus('by-hand-1')).toBe('running');
      expect(await audit(ws, 'drift.stop_unknown')).toEqual([]);
      spawnSync('runc', ['--root', runcRoot(ws), 'delete', '--force', 'by-hand-1']);
    },
    STEP_MS,
  );

  it(
    'Given enforce mode, when a container is started by hand, then it is reported unknown and stopped',
    async () => {
      ws.edit('mode: warn', 'mode: enforce');
      await restartUp(ws);
      expect((await status(ws)).drift[0]!.mode).toBe('enforce');
      const before = await ids();
      const [first] = await instances(ws);
      const t0 = Date.now();
      startByHand('by-hand-2', first!.id);
      const stopped = await waitFor(async () => runcStatus('by-hand-2') === 'gone', 30_000, 250);
      expect(stopped, 'by-hand-2 stopped').toBe(true);
      console.log(`enforce: a container started by hand was stopped after ${Date.now() - t0} ms`);
      const [entry] = await audit(ws, 'drift.stop_unknown');
      expect(entry).toMatchObject({ actor: 'cairn-up', subject: { instance: 'by-hand-2' } });
      expect((await audit(ws, 'drift.detected')).some((e) => e.subject.instance === 'by-hand-2')).toBe(true);
      expect(await ids()).toBe(before);
      expect((await ws.runAsync(['audit', 'verify'])).code).toBe(0);
    },
    STEP_MS,
  );
});
