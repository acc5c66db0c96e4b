/**
 * Runbook: `cairn drift` proves each running instance is exactly its artifact. examples/hello runs
 * two instances under `cairn up` with real runc. In sync, drift exits 0; when a byte is appended
 * to a file of the shared bundle, or someone enters an instance with `runc exec`, it exits 2 and
 * names the path or the process, and records the finding in the audit log; a container started by
 * hand next to cairn's is reported unknown.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDrivers, privateDirOf } from '../../src/runtime/index.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const runcUsable = detectDrivers().some((d) => d.kind === 'runc' && d.usable);
const SKIP_REASON = 'runc is not usable here (needs root and the runc package): drift e2e skipped';
const SETUP_MS = 300_000;
const STEP_MS = 120_000;
const HAND_ID = 'by-hand-1';

interface Report {
  inSync: boolean;
  instances: Array<{
    instance: string;
    verdict: {
      status: string;
      notChecked?: string[];
      reasons?: Array<{ kind: string; path?: string; change?: string; pid?: number; args?: string[] }>;
    };
  }>;
}

if (!runcUsable) console.warn(SKIP_REASON);

describe.runIf(runcUsable)('cairn drift with real runc', () => {
  let ws: HelloWorkspace;
  let intruder: ChildProcess | undefined;
  let handMade: string | undefined;

  const drift = async () => {
    const r = await ws.runAsync(['drift', '--env', 'dev', '-o', 'json']);
    expect([0, 2], r.stderr).toContain(r.code);
    return { code: r.code, report: JSON.parse(r.stdout) as Report };
  };
  const serverJs = () => {
    const bundles = join(ws.dir, '.cairn', 'bundles');
    const [hex] = readdirSync(bundles).filter((n) => /^[0-9a-f]{64}$/.test(n));
    return join(bundles, hex!, 'rootfs', 'app', 'server.js');
  };

  beforeAll(async () => {
    ws = new HelloWorkspace(helloSpec(await freePort(), '{ strategy: rolling }'));
    // These cases are about `cairn drift` on demand: keep cairn up's own loop out of their way.
    ws.edit('dev: { gateway', 'dev: { drift: { mode: warn, intervalMs: 1h, fastPath: false }, gateway');
    for (const args of [
      ['init'],
      ['build', 'hello'],
      ['up', '--detach', '--driver', 'runc'],
      ['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '120s'],
    ]) {
      const r = await ws.runAsync(args);
      expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  }, SETUP_MS);

  const stopHandMade = () => {
    const root = join(ws.dir, '.cairn', 'runtime', 'runc');
    spawnSync('runc', ['--root', root, 'delete', '--force', HAND_ID], { stdio: 'ignore' });
    if (handMade) rmSync(handMade, { recursive: true, force: true });
  };

  afterAll(() => {
    intruder?.kill('SIGKILL');
    if (ws) stopHandMade();
    ws?.cleanup();
  }, SETUP_MS);

  it(
    'Given two healthy instances, when drift is checked, then both are in sync, every check made, exit 0',
    async () => {
      const { code, report } = await drift();
      expect(code).toBe(0);
      expect(report.inSync).toBe(true);
      expect(report.instances.map((i) => i.verdict)).toEqual([
        { status: 'in-sync', notChecked: [] },
        { status: 'in-sync', notChecked: [] },
      ]);
      const text = await ws.runAsync(['drift', '--env', 'dev']);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('2 instance(s) in traffic, all in sync');
    },
    STEP_MS,
  );

  it(
    'Given a byte appended to a file of the shared bundle, then drift exits 2 naming the path for both instances, and records it; restored, it is in sync again',
    async () => {
      const file = serverJs();
      const { mode, size } = statSync(file);
      chmodSync(file, 0o644);
      appendFileSync(file, 'x');
      chmodSync(file, mode);
      const text = await ws.runAsync(['drift', '--env', 'dev']);
      expect(text.code, text.stderr).toBe(2);
      expect(text.stdout).toMatch(/~ \/app\/server\.js: content sha256:\w+ \(\d+ bytes\) → sha256:\w+/);
      expect(text.stdout).toContain('2 of 2 instance(s) in traffic not in sync: drift found');
      const audit = await ws.runAsync(['audit', 'log', '--env', 'dev', '-o', 'json']);
      const entries = (JSON.parse(audit.stdout) as { entries: Array<{ action: string; detail?: unknown }> })
        .entries;
      const found = entries.filter((e) => e.action === 'drift.detected');
      expect(found).toHaveLength(2);
      expect(JSON.stringify(found[0]!.detail)).toContain('/app/server.js');
      expect((await ws.runAsync(['audit', 'verify'])).code).toBe(0);

      truncateSync(file, size);
      expect((await drift()).code).toBe(0);
    },
    STEP_MS,
  );

  it(
    'Given a process entered into an instance with runc exec, then drift exits 2 naming that process in that instance only',
    async () => {
      const before = await drift();
      const target = before.report.instances[0]!.instance;
      const root = join(ws.dir, '.cairn', 'runtime', 'runc');
      const args = ['--root', root, 'exec', target, 'node', '-e', 'setTimeout(() => {}, 300000)'];
      intruder = spawn('runc', args, { stdio: 'ignore' });
      let after = before;
      for (let i = 0; i < 40 && after.code === 0; i++) {
        await sleep(250);
        after = await drift();
      }
      expect(after.code).toBe(2);
      const drifted = after.report.instances.find((i) => i.instance === target);
      const other = after.report.instances.find((i) => i.instance !== target);
      expect(drifted!.instance).toBe(target);
      expect(drifted!.verdict.status).toBe('drifted');
      expect(drifted!.verdict.reasons).toEqual([
        expect.objectContaining({ kind: 'process', args: ['node', '-e', 'setTimeout(() => {}, 300000)'] }),
      ]);
      expect(other!.verdict.status).toBe('in-sync');
      const text = await ws.runAsync(['drift', '--env', 'dev']);
      expect(text.stdout).toContain(`! process pid ${drifted!.verdict.reasons![0]!.pid} (node -e setTimeout`);

      intruder.kill('SIGKILL');
      process.kill(drifted!.verdict.reasons![0]!.pid!, 'SIGKILL');
      let last = after;
      for (let i = 0; i < 40 && last.code !== 0; i++) {
        await sleep(250);
        last = await drift();
      }
      expect(last.code).toBe(0);
    },
    STEP_MS,
  );

  it(
    "Given a container started by hand next to cairn's, then drift reports it unknown and exits 2",
    async () => {
      const [first] = (await drift()).report.instances;
      const root = join(ws.dir, '.cairn', 'runtime', 'runc');
      const config = JSON.parse(
        readFileSync(
          join(
            privateDirOf({ runtimeDir: join(ws.dir, '.cairn', 'runtime') }, first!.instance),
            'config.json',
          ),
          'utf8',
        ),
      ) as { process: { args: string[] }; annotations?: unknown };
      config.process.args = ['node', '-e', 'setTimeout(() => {}, 300000)'];
      delete config.annotations;
      handMade = mkdtempSync(join(tmpdir(), 'cairn-drift-hand-'));
      writeFileSync(join(handMade, 'config.json'), JSON.stringify(config));
      execFileSync('runc', ['--root', root, 'run', '--detach', '--bundle', handMade, HAND_ID], {
        stdio: 'ignore',
      });
      const { code, report } = await drift();
      expect(code).toBe(2);
      expect(report.instances.find((i) => i.instance === HAND_ID)?.verdict).toEqual({
        status: 'unknown',
        detail: `${HAND_ID} runs, but the state store has no live instance by that id`,
      });
      expect(report.instances.filter((i) => i.verdict.status === 'in-sync')).toHaveLength(2);
      stopHandMade();
      expect((await drift()).code).toBe(0);
    },
    STEP_MS,
  );

  it('Given an environment not in the spec, then drift fails with a hint and exit 1', async () => {
    const r = await ws.runAsync(['drift', '--env', 'dve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('environment "dve" is not in cairn.yaml');
    expect(r.stderr).toContain('did you mean "dev"?');
  });
});
