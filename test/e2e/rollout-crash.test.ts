/**
 * Runbook: the control plane is SIGKILLed in the middle of a rollout — at a canary weight, during
 * an analysis, while the old release is kept warm — and started again. Each time the rollout
 * carries on (or is rolled back) from its persisted state, no instance is duplicated or lost,
 * and traffic reaches only live instances.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Load } from '../../scripts/load.mjs';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const DEPLOY = `{ strategy: canary, steps: [{ weight: 20, pauseMs: 6s }, { analysis: {} }, { weight: 100 }], analysis: { maxErrorRate: 0.05, maxP99Ms: 5000, minRequests: 50 }, scaleDownDelayMs: 10m }`;
const STEP_MS = 300_000;

interface Status {
  services: Array<{
    release?: string;
    weights: Array<{ release: string; weight: number }>;
    instances: Array<{ id: string; release: string; state: string }>;
    rollout?: { id: string; phase: string; stage: string; step: number; weight: number; reason?: string };
  }>;
}

describe('a control plane killed mid-rollout', () => {
  let ws: HelloWorkspace;
  let load: Load;
  const releases: Record<string, string> = {};

  const status = async () => {
    const r = await ws.runAsync(['status', '--env', 'dev', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as Status).services[0]!;
  };
  const until = async (what: string, ok: (s: Status['services'][0]) => boolean, timeoutMs = 180_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await status();
      if (ok(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
      await sleep(250);
    }
  };
  const killAndRestart = async () => {
    const { pid } = JSON.parse(readFileSync(join(ws.dir, '.cairn', 'api.json'), 'utf8')) as { pid: number };
    process.kill(pid, 'SIGKILL');
    await sleep(300);
    const up = await ws.runAsync(['up', '--detach']);
    expect(up.code, up.stderr).toBe(0);
    return Date.now();
  };
  const build = async (name: string) => {
    ws.useConfig(name, { version: name });
    expect((await ws.runAsync(['build', 'hello'])).code).toBe(0);
  };
  /** No duplicates: each release runs exactly the instances expected, all healthy and distinct. */
  const expectInstances = (s: Status['services'][0], expected: Record<string, number>) => {
    const byRelease: Record<string, number> = {};
    for (const i of s.instances) byRelease[i.release] = (byRelease[i.release] ?? 0) + 1;
    expect(byRelease).toEqual(expected);
    expect(new Set(s.instances.map((i) => i.id)).size).toBe(s.instances.length);
  };

  beforeAll(async () => {
    const port = await freePort();
    ws = new HelloWorkspace(helloSpec(port, DEPLOY));
    expect((await ws.runAsync(['init'])).code).toBe(0);
    await build('v1');
    expect((await ws.runAsync(['up', '--detach'])).code).toBe(0);
    expect((await ws.runAsync(['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait'])).code).toBe(
      0,
    );
    releases.v1 = (await status()).release!;
    load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 4 }).start(20 * 60_000);
  }, STEP_MS);

  afterAll(async () => {
    await load?.stop();
    ws?.cleanup();
  }, STEP_MS);

  it(
    'Killed at a canary weight, the rollout continues after restart and completes',
    async () => {
      await build('v2');
      expect((await ws.runAsync(['deploy', 'hello', '--env', 'dev', '--image', 'hello'])).code).toBe(0);
      const atWeight = await until('weight 20', (s) => s.rollout?.weight === 20 && s.rollout.step === 0);
      releases.v2 = atWeight.weights.find((w) => w.release !== releases.v1)!.release;
      const restarted = await killAndRestart();
      const done = await until(
        'success',
        (s) => s.rollout?.phase === 'succeeded' && s.rollout.stage === 'warm',
      );
      expect(done.release).toBe(releases.v2);
      expectInstances(done, { [releases.v1!]: 2, [releases.v2!]: 2 });
      await sleep(1500);
      const after = load.summary(restarted + 2000, Date.now());
      expect(after.failures).toBe(0);
      expect(Object.keys(load.summary(Date.now() - 1000, Date.now()).versions)).toEqual(['v2']);
    },
    STEP_MS,
  );

  it(
    'Killed during an analysis that waits for traffic, the restarted rollout can still be aborted cleanly',
    async () => {
      ws.edit('minRequests: 50', 'minRequests: 1000000');
      await build('v4');
      expect((await ws.runAsync(['deploy', 'hello', '--env', 'dev', '--image', 'hello'])).code).toBe(0);
      await until('analysis', (s) => s.rollout?.step === 1 && s.rollout.phase === 'progressing');
      await killAndRestart();
      const resumed = await until(
        'the same rollout after restart',
        (s) => s.rollout?.step === 1 && s.rollout.phase === 'progressing',
        60_000,
      );
      const abort = await ws.runAsync(['abort', 'hello', '--env', 'dev']);
      expect(abort.code, abort.stderr).toBe(0);
      const back = await until(
        'rolled back',
        (s) => s.rollout?.phase === 'aborted' && s.rollout.stage === 'done' && s.instances.length === 4,
      );
      expect(back.release).toBe(releases.v2);
      expect(back.rollout!.id).toBe(resumed.rollout!.id);
      expectInstances(back, { [releases.v1!]: 2, [releases.v2!]: 2 });
      const from = Date.now();
      await sleep(1500);
      expect(load.summary(from, Date.now()).failures).toBe(0);
      expect(Object.keys(load.summary(from, Date.now()).versions)).toEqual(['v2']);
      ws.edit('minRequests: 1000000', 'minRequests: 50');
    },
    STEP_MS,
  );

  it(
    'Killed while the old release is kept warm, the warm instances are re-adopted, not duplicated, and a rollback flips to them',
    async () => {
      const restarted = await killAndRestart();
      const s = await until(
        'adopted',
        (x) => x.instances.length >= 4 && x.instances.every((i) => i.state === 'healthy'),
        60_000,
      );
      expectInstances(s, { [releases.v1!]: 2, [releases.v2!]: 2 });
      const r = await ws.runAsync(['rollback', 'hello', '--env', 'dev', '-o', 'json']);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { deployment: { phase: string } }).deployment.phase).toBe('succeeded');
      await sleep(1500);
      expect(Object.keys(load.summary(Date.now() - 1000, Date.now()).versions)).toEqual(['v1']);
      expect(load.summary(restarted + 2000, Date.now()).failures).toBe(0);
    },
    STEP_MS,
  );
});
