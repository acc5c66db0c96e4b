/**
 * Runbook (issue 23, finding 4): a policy that passes `cairn validate` — its cost bound is within
 * the budget — but runs for minutes (its variables build a million-element list the bound cannot
 * see, and every element raises an error). It runs in the policy worker: after 1 s the worker is
 * stopped and the deploy is denied naming the policy, while the control plane's API and gateway
 * keep answering; the next evaluation gets a fresh worker. (Needs `npm run build`: the worker
 * thread is the built one.)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  componentsDigest,
  POLICY_DEADLINE_MS,
  type PolicyInput,
  PolicyWorker,
} from '../../src/policy/index.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const tenfold = (v: string) => Array(10).fill(`variables.${v}`).join(' + ');
const SLOW = `policies:
  - name: quick
    validations:
      - expression: 'service != ""'
  - name: slow
    match: { stages: [deploy] }
    variables:
      - { name: l0, expression: '[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]' }
      - { name: l1, expression: '${tenfold('l0')}' }
      - { name: l2, expression: '${tenfold('l1')}' }
      - { name: l3, expression: '${tenfold('l2')}' }
      - { name: l4, expression: '${tenfold('l3')}' }
      - { name: l5, expression: '${tenfold('l4')}' }
    validations:
      - expression: '!variables.l5.exists(x, int(string(x) + "z") == 1)'
`;

const input: PolicyInput = {
  service: 'hello',
  environment: 'dev',
  stage: 'deploy',
  actor: 'alice',
  image: {
    digest: `sha256:${'a'.repeat(64)}`,
    created: '',
    config: { user: '', entrypoint: [], cmd: [], env: [], workingDir: '', labels: {}, exposedPorts: [] },
  },
  release: { id: 'r1', run: {} },
  sbom: { present: false, components: [] },
  provenance: { present: false, builder: '', buildType: '', sourceCommit: '', dirty: false },
  signatures: [],
  scan: { present: false, dbAsOf: '', maxSeverity: 'none', findings: [] },
};

/** Largest gap between ticks of a 10 ms timer while `work` runs: how long the event loop stalled. */
async function loopStallMs<T>(work: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 10);
  try {
    return { value: await work(), stallMs };
  } finally {
    clearInterval(tick);
  }
}

describe('the policy worker', () => {
  const digest = 'sha256:slow';
  const batch = (names: string[]) => ({
    files: [{ digest, file: 'slow.yaml', text: SLOW }],
    policies: names.map((name) => ({ digest, name })),
    input,
    sbomDigest: componentsDigest([]),
  });

  it('Given a policy that runs for minutes, Then it is stopped at the deadline and named, the event loop never stalls, and the next batch gets a fresh worker', async () => {
    const worker = new PolicyWorker();
    try {
      // Started and warm, so the deadline measures evaluation only.
      expect(await worker.evaluate(batch(['quick']))).toHaveProperty('evaluation.violations', []);
      const started = performance.now();
      const { value, stallMs } = await loopStallMs(() => worker.evaluate(batch(['quick', 'slow'])));
      const tookMs = performance.now() - started;
      expect(value).toEqual({ timedOut: { policy: 'slow', deadlineMs: POLICY_DEADLINE_MS } });
      expect(tookMs).toBeGreaterThanOrEqual(POLICY_DEADLINE_MS - 5);
      expect(tookMs).toBeLessThan(POLICY_DEADLINE_MS + 1_000);
      expect(stallMs).toBeLessThan(250);
      const after = await worker.evaluate(batch(['quick']));
      expect(after).toHaveProperty('evaluation.results.0.validations', [{ result: 'pass' }]);
    } finally {
      await worker.close();
    }
  }, 60_000);
});

describe('a deploy whose policy never finishes', () => {
  let ws: HelloWorkspace;
  let gatewayPort: number;

  beforeAll(async () => {
    gatewayPort = await freePort();
    ws = new HelloWorkspace(
      helloSpec(gatewayPort, '{ strategy: bluegreen }').replace(
        'dev: { gateway',
        'dev: { policies: [policies/slow.yaml], gateway',
      ),
    );
    mkdirSync(join(ws.dir, 'policies'), { recursive: true });
    writeFileSync(join(ws.dir, 'policies', 'slow.yaml'), SLOW);
    expect((await ws.runAsync(['init'])).code).toBe(0);
    const validate = await ws.runAsync(['validate']);
    expect(validate.code, validate.stderr).toBe(0);
    const build = await ws.runAsync(['build', 'hello']);
    expect(build.code, build.stderr).toBe(0);
    const up = await ws.runAsync(['up', '--detach']);
    expect(up.code, up.stderr).toBe(0);
  }, 300_000);
  afterAll(() => ws?.cleanup());

  it('When it is deployed, Then the deploy is denied naming the policy after the deadline, and the API and gateway keep answering', async () => {
    const api = (JSON.parse(readFileSync(join(ws.dir, '.cairn', 'api.json'), 'utf8')) as { url: string }).url;
    let probing = true;
    const slowest = { api: 0, gateway: 0 };
    const probe = async (which: 'api' | 'gateway', url: string) => {
      while (probing) {
        const t = performance.now();
        await fetch(url, { signal: AbortSignal.timeout(30_000) }).then((r) => r.arrayBuffer());
        slowest[which] = Math.max(slowest[which], performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const probes = [probe('api', `${api}/v1/health`), probe('gateway', `http://127.0.0.1:${gatewayPort}/`)];
    const started = Date.now();
    const denied = await ws.runAsync(['deploy', 'hello', '--env', 'dev']);
    const tookMs = Date.now() - started;
    probing = false;
    await Promise.all(probes);

    expect(denied.code, denied.stderr).toBe(3);
    expect(denied.stderr).toContain('policy slow did not finish within 1s and was stopped');
    expect(tookMs).toBeLessThan(30_000);
    // A policy on the main thread would have held both for the whole evaluation (minutes).
    expect(slowest.api).toBeLessThan(500);
    expect(slowest.gateway).toBeLessThan(500);
  }, 120_000);
});
