/**
 * Runbook: what `cairn drift` says while a drifted instance is being replaced, and how long it may
 * keep running. examples/hello (answers after 4 s) runs two instances under `cairn up` in enforce
 * mode with real runc. A request is in flight when a byte is appended to their shared bundle: the
 * fast path replaces both; the old ones leave traffic and drain. Meanwhile `cairn drift` lists them
 * as being replaced (out of traffic, draining since T, and the drift that caused it) and exits 0,
 * because every instance in traffic is in sync. The in-flight request completes; the old instances
 * are gone as soon as it has (well inside deploy.drainTimeoutMs + run.stopGraceMs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';
import {
  appendByte,
  deployHello,
  instances,
  runcUsable,
  SKIP_REASON,
  serverJs,
  waitFor,
} from './drift-helpers.js';

const SETUP_MS = 300_000;
const STEP_MS = 120_000;
// Long enough that the request is still in flight when a loaded machine has replaced the instances.
const DELAY_MS = 10_000;
const DRAIN_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 10_000;

interface DriftJson {
  inSync: boolean;
  instances: Array<{ instance: string; traffic: string; state?: string; verdict: { status: string } }>;
}

if (!runcUsable) console.warn(SKIP_REASON);

describe.runIf(runcUsable)('cairn drift while drifted instances are replaced (real runc)', () => {
  let ws: HelloWorkspace;
  let gateway: string;

  beforeAll(async () => {
    const port = await freePort();
    gateway = `127.0.0.1:${port}`;
    ws = new HelloWorkspace(
      helloSpec(port, `{ strategy: rolling, drainTimeoutMs: ${DRAIN_TIMEOUT_MS} }`)
        .replace('tmpfs: [/tmp]', `tmpfs: [/tmp]\n      stopGraceMs: ${STOP_GRACE_MS}`)
        .replace(
          'dev: { gateway',
          'dev: { drift: { mode: enforce, intervalMs: 1h, fastPath: true }, gateway',
        ),
    );
    ws.useConfig('slow', { version: 'v1', delayMs: DELAY_MS });
    await deployHello(ws);
  }, SETUP_MS);

  afterAll(() => ws?.cleanup(), SETUP_MS);

  it(
    'Given a request in flight, When the bundle is tampered with, Then drift shows the old instances as being replaced and exits 0 once those in traffic are in sync, and they stop when the request is done',
    async () => {
      const before = (await instances(ws)).map((i) => i.id);
      expect(before).toHaveLength(2);
      const t0 = Date.now();
      const inFlight = fetch(`http://${gateway}/`).then((r) => r.status);
      await new Promise((r) => setTimeout(r, 300));
      appendByte(serverJs(ws));
      const BEING_REPLACED = new RegExp(
        `(${before.join('|')}) .* \\(being replaced: out of traffic, draining since \\d{4}-\\d\\d-\\d\\dT[^,]+, stopped once its requests finish\\)`,
      );
      // Poll until an old instance is seen draining while every instance in traffic is in sync.
      const seen = await waitFor(async () => {
        const json = await ws.runAsync(['drift', '--env', 'dev', '-o', 'json']);
        const report = JSON.parse(json.stdout) as DriftJson;
        const old = report.instances.filter((i) => before.includes(i.instance));
        const serving = report.instances.filter((i) => i.traffic === 'in');
        const ready =
          old.some((i) => i.state === 'draining') &&
          serving.length === 2 &&
          serving.every((i) => i.verdict.status === 'in-sync');
        if (!ready) return false;
        // The text must show the same moment: an old instance still draining (a later look may
        // find it stopped, its request done).
        const text = await ws.runAsync(['drift', '--env', 'dev']);
        return BEING_REPLACED.test(text.stdout) && { code: json.code, report, text };
      }, DELAY_MS + 10_000);
      expect(seen, 'an old instance draining beside two in-sync ones').toBeTruthy();
      if (!seen) return;
      expect(seen.code).toBe(0);
      expect(seen.report.inSync).toBe(true);
      const draining = seen.report.instances.find((i) => i.state === 'draining')!;
      expect(draining.traffic).toBe('out');
      expect(seen.text.code).toBe(0);
      expect(seen.text.stdout).toMatch(BEING_REPLACED);
      expect(seen.text.stdout).toMatch(
        /cause: drift: drifted \(\d+ difference\(s\): files\); replaced by ins-/,
      );
      expect(seen.text.stdout).toMatch(/2 instance\(s\) in traffic, all in sync; \d out of traffic/);
      // The request it was serving is not lost; then it is stopped, well before the documented bound.
      expect(await inFlight).toBe(200);
      const gone = await waitFor(
        async () => !(await instances(ws)).some((i) => before.includes(i.id)),
        DRAIN_TIMEOUT_MS + STOP_GRACE_MS,
      );
      expect(gone).toBe(true);
      console.log(`old instances gone ${Date.now() - t0} ms after the tamper (request took ${DELAY_MS} ms)`);
      expect(Date.now() - t0).toBeLessThan(DELAY_MS + STOP_GRACE_MS);
    },
    STEP_MS,
  );
});
