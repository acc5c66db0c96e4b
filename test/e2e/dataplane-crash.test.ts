/**
 * Runbook: the data plane outlives the control plane, for both gateway engines.
 * Given a canary at weight 30 under steady load, with isolated instances where the machine can,
 * when the control plane is SIGKILLed and stays dead for a while,
 * then the gateway process (its own session, in the gateway's cgroup) keeps serving every request
 * with the canary's weights, `cairn up` adopts the same gateway process and the same instances,
 * and the rollout carries on to completion — without one failed request from start to end.
 * When the gateway process itself dies, the control plane starts it again with its last pools.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Load } from '../../scripts/load.mjs';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const DEPLOY = `{ strategy: canary, steps: [{ weight: 30, pauseMs: 20s }, { analysis: {} }, { weight: 100 }], analysis: { maxErrorRate: 0.01, maxP99Ms: 5000, minRequests: 50 }, scaleDownDelayMs: 0 }`;
const DOWN_MS = 6_000;
const STEP_MS = 300_000;

interface Service {
  release?: string;
  weights: Array<{ release: string; weight: number }>;
  instances: Array<{ id: string; release: string; state: string }>;
  rollout?: { phase: string; stage: string; step: number; weight: number };
}

const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

describe.each(['builtin', 'haproxy'] as const)('the %s gateway when the control plane dies', (engine) => {
  let ws: HelloWorkspace;
  let load: Load;
  let port: number;
  const run = (f: string) => join(ws.dir, '.cairn', 'run', f);
  const gatewayPid = () => (JSON.parse(readFileSync(run('gateway-dev.pid'), 'utf8')) as { pid: number }).pid;
  const haproxyPid = () =>
    Number(readFileSync(join(ws.dir, '.cairn', 'gateway', 'dev', 'haproxy.pid'), 'utf8'));
  const controlPlanePid = () =>
    (JSON.parse(readFileSync(join(ws.dir, '.cairn', 'api.json'), 'utf8')) as { pid: number }).pid;
  const status = async (): Promise<Service> => {
    const r = await ws.runAsync(['status', '--env', 'dev', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { services: Service[] }).services[0]!;
  };
  const until = async (what: string, ok: (s: Service) => boolean, timeoutMs = 180_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await status();
      if (ok(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
      await sleep(250);
    }
  };
  /** Isolated instances (runc as root) accept only the gateway's cgroup: the gateway (and its HAProxy) must be in it. */
  const expectInGatewayCgroup = (pid: number) => {
    if (process.getuid?.() !== 0) return;
    const pids = [pid];
    if (engine === 'haproxy') pids.push(haproxyPid());
    for (const p of pids)
      expect(readFileSync(`/proc/${p}/cgroup`, 'utf8')).toMatch(/^0::\/cairn-gw-[0-9a-f]+$/m);
  };
  const build = async (name: string) => {
    ws.useConfig(name, { version: name });
    expect((await ws.runAsync(['build', 'hello'])).code).toBe(0);
  };

  beforeAll(async () => {
    port = await freePort();
    ws = new HelloWorkspace(helloSpec(port, DEPLOY, engine));
    expect((await ws.runAsync(['init'])).code).toBe(0);
    await build('v1');
    expect((await ws.runAsync(['up', '--detach'])).code).toBe(0);
    const first = await ws.runAsync(['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait']);
    expect(first.code, first.stderr).toBe(0);
    load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 4 }).start(10 * 60_000);
  }, STEP_MS);

  afterAll(async () => {
    await load?.stop();
    if (!ws) return;
    // A test that failed with the control plane killed left a gateway: start a control plane so
    // that `down` stops the instances and the gateway.
    const cpRuns = existsSync(join(ws.dir, '.cairn', 'api.json')) && alive(controlPlanePid());
    if (existsSync(run('gateway-dev.pid')) && !cpRuns) await ws.runAsync(['up', '--detach']);
    ws.cleanup();
  }, STEP_MS);

  it(
    'Killed mid-canary, the gateway serves the canary weights with 0 failures, is adopted, and the rollout completes',
    async () => {
      const startedAt = Date.now();
      await build('v2');
      expect((await ws.runAsync(['deploy', 'hello', '--env', 'dev', '--image', 'hello'])).code).toBe(0);
      const atWeight = await until('weight 30', (s) => s.rollout?.weight === 30 && s.rollout.step === 0);
      const instancesBefore = atWeight.instances.map((i) => i.id).sort();
      const gateway = gatewayPid();
      expectInGatewayCgroup(gateway);

      // When: the control plane is killed and nobody restarts it for a while.
      const cp = controlPlanePid();
      process.kill(cp, 'SIGKILL');
      const killedAt = Date.now();
      await sleep(DOWN_MS);
      expect(alive(cp)).toBe(false);
      expect(alive(gateway)).toBe(true);
      const down = load.summary(killedAt, Date.now());
      // Then: every request was served, split by the canary's weights.
      expect(down.failures).toBe(0);
      expect(down.requests).toBeGreaterThan(100);
      const canaryShare = (down.versions.v2 ?? 0) / down.requests;
      expect(canaryShare).toBeGreaterThan(0.2);
      expect(canaryShare).toBeLessThan(0.4);
      console.log(
        `[${engine}] control plane down ${DOWN_MS} ms: ${down.requests} requests, ${down.failures} failed, v2 share ${canaryShare.toFixed(3)}`,
      );

      // When: `cairn up` comes back, it adopts the same gateway process and the same instances.
      const upAt = Date.now();
      const up = await ws.runAsync(['up', '--detach']);
      expect(up.code, up.stderr).toBe(0);
      const readyMs = Date.now() - upAt;
      expect(gatewayPid()).toBe(gateway);
      expectInGatewayCgroup(gateway);
      const adopted = readFileSync(join(ws.dir, '.cairn', 'logs', 'control-plane.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"msg":"gateway adopted"'))
        .map((l) => JSON.parse(l) as { pid: number; ms: number });
      expect(adopted.map((a) => a.pid)).toEqual([gateway]);
      console.log(`[${engine}] the gateway itself was adopted in ${adopted[0]!.ms} ms`);
      const resumed = await status();
      expect(resumed.instances.map((i) => i.id).sort()).toEqual(instancesBefore);
      console.log(`[${engine}] cairn up re-adopted gateway pid ${gateway} in ${readyMs} ms`);

      // Then: the rollout carries on to completion, and no request failed at any point.
      await until('success', (s) => s.rollout?.phase === 'succeeded' && s.rollout.stage === 'done');
      await sleep(1500);
      expect(Object.keys(load.summary(Date.now() - 1000, Date.now()).versions)).toEqual(['v2']);
      const whole = load.summary(startedAt, Date.now());
      expect(whole.failures, JSON.stringify(whole)).toBe(0);
      console.log(`[${engine}] whole rollout: ${whole.requests} requests, ${whole.failures} failed`);
    },
    STEP_MS,
  );

  it(
    'A gateway process that dies is started again at once with the last pools',
    async () => {
      const before = gatewayPid();
      process.kill(before, 'SIGKILL');
      const killedAt = Date.now();
      await expect
        .poll(() => existsSync(run('gateway-dev.pid')) && gatewayPid() !== before, { timeout: 15_000 })
        .toBe(true);
      await expect
        .poll(() => load.summary(Date.now() - 500, Date.now()).versions.v2 ?? 0, {
          timeout: 15_000,
          interval: 100,
        })
        .toBeGreaterThan(0);
      const back = Date.now();
      const crash = load.summary(killedAt, back);
      await sleep(1000); // requests already on their way to the dead process may still fail
      const from = Date.now();
      console.log(
        `[${engine}] gateway process killed: restarted and serving within ${back - killedAt} ms; meanwhile ${crash.requests} answered, ${crash.failures} failed`,
      );
      await sleep(1500);
      expect(load.summary(from, Date.now()).failures).toBe(0);
    },
    STEP_MS,
  );

  it(
    '`cairn down` stops the gateway process and removes its files',
    async () => {
      const pid = gatewayPid();
      const haproxy = engine === 'haproxy' ? haproxyPid() : undefined;
      await load.stop();
      const r = await ws.runAsync(['down']);
      expect(r.code, r.stderr).toBe(0);
      expect(alive(pid)).toBe(false);
      if (haproxy) expect(alive(haproxy)).toBe(false);
      expect(existsSync(run('gateway-dev.pid'))).toBe(false);
      expect(existsSync(run('gateway-dev.sock'))).toBe(false);
    },
    STEP_MS,
  );

  it(
    'With the control plane killed, `cairn down` still stops the gateway it left; `up` then `down` stop the instances',
    async () => {
      expect((await ws.runAsync(['up', '--detach'])).code).toBe(0);
      const pid = gatewayPid();
      const cp = controlPlanePid();
      process.kill(cp, 'SIGKILL');
      await expect.poll(() => alive(cp), { timeout: 10_000 }).toBe(false);
      const r = await ws.runAsync(['down']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('no control plane was running; stopped the gateway of dev');
      expect(alive(pid)).toBe(false);
      expect(existsSync(run('gateway-dev.pid'))).toBe(false);
      expect((await ws.runAsync(['up', '--detach'])).code).toBe(0);
      expect((await ws.runAsync(['down'])).code).toBe(0);
    },
    STEP_MS,
  );
});
