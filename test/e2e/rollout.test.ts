/**
 * Runbook: a service moves v1 → v2 (blue/green) → v4 (canary) under steady load without a failed
 * request; the bad v3 canary is rolled back automatically; a rollback to the warm previous
 * release flips traffic at once. Real runc (or the best driver here), real gateway, real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Load } from '../../scripts/load.mjs';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const DEPLOY = `{ strategy: canary, steps: [{ weight: 20 }, { analysis: {} }, { weight: 100 }], analysis: { maxErrorRate: 0.01, maxP99Ms: 3000, minRequests: 100 } }`;
const STEP_MS = 300_000;

interface StatusJson {
  services: Array<{
    release?: string;
    weights: Array<{ release: string; weight: number }>;
    instances: Array<{ release: string; state: string }>;
    rollout?: {
      phase: string;
      reason?: string;
      lastVerdict?: { verdict: string; rule: string };
      durationMs?: number;
      createdAt: string;
    };
  }>;
}

describe.each(['builtin', 'haproxy'] as const)('rollouts under load (%s gateway engine)', (engine) => {
  let ws: HelloWorkspace;
  let load: Load;
  // Every command runs asynchronously: a blocked event loop here would stall the load itself.
  const status = async () =>
    JSON.parse((await ws.runAsync(['status', '--env', 'dev', '-o', 'json'])).stdout) as StatusJson;
  const buildVariant = async (name: string, config: Record<string, unknown>) => {
    ws.useConfig(name, config);
    expect((await ws.runAsync(['build', 'hello'])).code).toBe(0);
  };
  const failuresOf = (from: number) =>
    JSON.stringify(
      load.samples.filter((x) => x.at >= from && !(x.status >= 200 && x.status < 300)).slice(0, 10),
    );
  const lastVersions = async () => {
    const from = Date.now();
    await new Promise((res) => setTimeout(res, 1500));
    return Object.keys(load.summary(from, Date.now()).versions);
  };

  beforeAll(async () => {
    const port = await freePort();
    ws = new HelloWorkspace(helloSpec(port, DEPLOY, engine));
    expect((await ws.runAsync(['init'])).code).toBe(0);
    await buildVariant('v1', { version: 'v1' });
    expect((await ws.runAsync(['up', '--detach'])).code).toBe(0);
    const first = await ws.runAsync([
      'deploy',
      'hello',
      '--env',
      'dev',
      '--image',
      'hello',
      '--wait',
      '--timeout',
      '120s',
    ]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 6 }).start(20 * 60_000);
  }, STEP_MS);

  afterAll(async () => {
    await load?.stop();
    ws?.cleanup();
  }, STEP_MS);

  it(
    'Given v1 serves, When v2 is deployed blue/green, Then no request fails and v2 takes all traffic',
    async () => {
      ws.edit('strategy: canary', 'strategy: bluegreen');
      await buildVariant('v2', { version: 'v2' });
      const from = Date.now();
      const r = await ws.runAsync([
        'deploy',
        'hello',
        '--env',
        'dev',
        '--image',
        'hello',
        '--wait',
        '--timeout',
        '180s',
      ]);
      expect(r.code, r.stderr).toBe(0);
      await new Promise((res) => setTimeout(res, 500));
      const during = load.summary(from, Date.now());
      expect(during.failures, failuresOf(from)).toBe(0);
      expect(during.versions.v2).toBeGreaterThan(0);
      expect(await lastVersions()).toEqual(['v2']);
      expect((await status()).services[0]!.weights.filter((w) => w.weight > 0)).toHaveLength(1);
    },
    STEP_MS,
  );

  it(
    'When v4 is deployed by canary, Then the analysis passes on real traffic and no request fails',
    async () => {
      ws.edit('strategy: bluegreen', 'strategy: canary');
      await buildVariant('v4', { version: 'v4' });
      const from = Date.now();
      const r = await ws.runAsync([
        'deploy',
        'hello',
        '--env',
        'dev',
        '--image',
        'hello',
        '--wait',
        '--timeout',
        '180s',
      ]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(load.summary(from, Date.now()).failures, failuresOf(from)).toBe(0);
      const rollout = (await status()).services[0]!.rollout!;
      expect(rollout.phase).toBe('succeeded');
      expect(rollout.lastVerdict?.verdict).toBe('pass');
      // v2 stays warm (running) but out of the pools: only v4 answers.
      expect(await lastVersions()).toEqual(['v4']);
    },
    STEP_MS,
  );

  it(
    'When the bad v3 goes out by canary, Then the analysis fails, traffic returns to v4, and only v3 failed requests',
    async () => {
      await buildVariant('v3', { version: 'v3', failEvery: 5, delayMs: 400 });
      const from = Date.now();
      const r = await ws.runAsync([
        'deploy',
        'hello',
        '--env',
        'dev',
        '--image',
        'hello',
        '--wait',
        '--timeout',
        '180s',
      ]);
      expect(r.code).toBe(1);
      await new Promise((res) => setTimeout(res, 500));
      const during = load.summary(from, Date.now());
      expect(Object.keys(during.failuresByVersion), failuresOf(from)).toEqual(['v3']);
      expect(during.failures).toBeLessThanOrEqual(during.versions.v3 ?? 0);
      expect((during.versions.v3 ?? 0) / during.requests).toBeLessThan(0.25);
      const s = (await status()).services[0]!;
      expect(s.rollout).toMatchObject({ phase: 'failed' });
      expect(s.rollout!.reason).toMatch(/analysis failed: error rate/);
      expect(await lastVersions()).toEqual(['v4']);
    },
    STEP_MS,
  );

  it(
    'When rolled back, Then the warm v2 takes traffic within 100 ms of the command reaching cairn',
    async () => {
      const r = await ws.runAsync(['rollback', 'hello', '--env', 'dev', '--output', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const { deployment } = JSON.parse(r.stdout) as {
        deployment: { phase: string; durationMs: number; createdAt: string };
      };
      expect(deployment.phase).toBe('succeeded');
      expect(deployment.durationMs).toBeLessThan(100);
      await new Promise((res) => setTimeout(res, 1500));
      const arrived = Date.parse(deployment.createdAt);
      const firstV2 = load.samples.find((x) => x.at - x.ms >= arrived && x.version === 'v2');
      expect(firstV2).toBeDefined();
      expect(load.summary(arrived, Date.now()).failures, failuresOf(arrived)).toBe(0);
      expect(await lastVersions()).toEqual(['v2']);
    },
    STEP_MS,
  );
});
