/**
 * Runbook: blue/green with a preview. A release whose health check passes but which answers 500 to
 * real requests must never take traffic. hello is deployed blue/green with `deploy.preview`: the
 * new release runs beside the old one for the preview window, reachable only through the pin
 * header, and cairn sends it its own requests there. A bad v2 (500 on every request, healthy
 * /healthz) fails the preview analysis and is rolled back: the steady load through the gateway
 * never sees v2 nor a failure. A good v2 passes the preview and is switched to.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Load } from '../../scripts/load.mjs';
import { detectDrivers } from '../../src/runtime/index.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const STEP_MS = 300_000;
const runcUsable = detectDrivers().some((d) => d.kind === 'runc' && d.usable);
const PREVIEW = `{ strategy: bluegreen, scaleDownDelayMs: 1h, preview: { durationMs: 3s, paths: [/], rps: 20, analysis: { minRequests: 20, maxErrorRate: 0.01 } } }`;

interface Rollout {
  phase: string;
  stage: string;
  reason?: string;
  lastVerdict?: { verdict: string; rule: string };
}
const rolloutOf = (stdout: string) => (JSON.parse(stdout) as { deployment: Rollout }).deployment;

describe.runIf(runcUsable)('blue/green preview: analysed before the switch (real runc)', () => {
  let ws: HelloWorkspace;
  let port: number;
  let load: Load;
  const deploy = () =>
    ws.runAsync(
      ['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '180s', '-o', 'json'],
      STEP_MS,
    );

  beforeAll(async () => {
    port = await freePort();
    ws = new HelloWorkspace(helloSpec(port, PREVIEW));
    for (const args of [['init'], ['build', 'hello'], ['up', '--detach', '--driver', 'runc']]) {
      const r = await ws.runAsync(args, STEP_MS);
      expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const first = await deploy();
    expect(first.code, first.stderr).toBe(0);
    load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 4 }).start(10 * 60_000);
  }, STEP_MS);

  afterAll(async () => {
    await load?.stop();
    ws?.cleanup();
  }, STEP_MS);

  it(
    'Given v1 serving, When a v2 that answers 500 (healthy /healthz) is deployed, Then the preview fails it and no client sees it',
    async () => {
      ws.useConfig('bad', { version: 'v2-bad', message: 'broken', failEvery: 1 });
      expect((await ws.runAsync(['build', 'hello'], STEP_MS)).code).toBe(0);
      const from = Date.now();
      const r = await deploy();
      expect(r.code).not.toBe(0);
      const rollout = rolloutOf(r.stdout);
      expect(rollout.phase).toBe('failed');
      expect(rollout.reason).toMatch(/^preview analysis failed: error rate/);
      const during = load.summary(from, Date.now());
      expect(during.requests).toBeGreaterThan(50);
      expect(during.failures).toBe(0);
      expect(Object.keys(during.versions)).toEqual(['v1']);
    },
    STEP_MS,
  );

  it(
    'When a good v2 is deployed, Then it passes the preview and takes all traffic without a failed request',
    async () => {
      ws.useConfig('v2', { version: 'v2', message: 'hello from v2' });
      expect((await ws.runAsync(['build', 'hello'], STEP_MS)).code).toBe(0);
      const from = Date.now();
      const r = await deploy();
      expect(r.code, r.stderr).toBe(0);
      const rollout = rolloutOf(r.stdout);
      expect(rollout.phase).toBe('succeeded');
      expect(rollout.lastVerdict?.verdict).toBe('pass');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const during = load.summary(from, Date.now());
      expect(during.failures).toBe(0);
      expect(Object.keys(during.versions).sort()).toEqual(['v1', 'v2']);
    },
    STEP_MS,
  );
});
