/**
 * Runbook: no false positive. examples/hello, changed to write every request to its tmpfs, runs
 * two instances under `cairn up` (real runc, enforce mode, a full drift check every 3 s plus the
 * fast path) while a steady load goes through the gateway for 10 minutes (CAIRN_SOAK_MS
 * overrides). Every check stays in sync, nothing is replaced, and no request fails.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Load } from '../../scripts/load.mjs';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';
import { audit, deployHello, instances, runcRoot, runcUsable, SKIP_REASON, status } from './drift-helpers.js';

const SOAK_MS = Number(process.env.CAIRN_SOAK_MS ?? 600_000);
const INTERVAL_MS = 3000;
const SAMPLE_MS = 5000;
const CONCURRENCY = 4;
const SETUP_MS = 300_000;

if (!runcUsable) console.warn(SKIP_REASON);

/** The service appends a line to /tmp (its tmpfs) for every request it serves. */
function writeToTmpfs(dir: string): void {
  const file = join(dir, 'app', 'server.js');
  const code = readFileSync(file, 'utf8');
  const patched = code.replace(
    'served += 1;',
    "served += 1;\n  appendFileSync('/tmp/served.log', String(served) + ' ' + req.url + '\\n');",
  );
  expect(patched).not.toBe(code);
  writeFileSync(file, `import { appendFileSync } from 'node:fs';\n${patched}`);
}

/** Bytes the instance wrote to its tmpfs, read from the host through its init's root (nothing entered). */
function tmpfsBytes(ws: HelloWorkspace, id: string): number {
  const r = spawnSync('runc', ['--root', runcRoot(ws), 'state', id], { encoding: 'utf8' });
  const { pid } = JSON.parse(r.stdout) as { pid: number };
  return statSync(`/proc/${pid}/root/tmp/served.log`).size;
}

describe.runIf(runcUsable)('drift soak: normal operation under load stays in sync', () => {
  let ws: HelloWorkspace;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    ws = new HelloWorkspace(helloSpec(port, '{ strategy: rolling }'));
    ws.edit('dev: { gateway', `dev: { drift: { mode: enforce, intervalMs: ${INTERVAL_MS} }, gateway`);
    writeToTmpfs(ws.dir);
    await deployHello(ws);
  }, SETUP_MS);

  afterAll(() => ws?.cleanup(), SETUP_MS);

  it(
    `Given load through the gateway and writes to tmpfs, when drift is checked every ${INTERVAL_MS} ms for ${SOAK_MS} ms, then every check is in sync, nothing is replaced and no request fails`,
    async () => {
      const before = (await instances(ws)).map((i) => i.id).sort();
      expect(before).toHaveLength(2);
      const auditBefore = (await audit(ws)).length;
      const checksBefore = (await status(ws)).drift[0]!.checks;
      const load = new Load(`http://127.0.0.1:${port}/`, { concurrency: CONCURRENCY }).start(SOAK_MS);
      const started = Date.now();
      let samples = 0;
      let worstNotInSync = 0;
      let slowestCheckMs = 0;
      while (Date.now() - started < SOAK_MS) {
        await sleep(Math.min(SAMPLE_MS, Math.max(0, SOAK_MS - (Date.now() - started))));
        const d = (await status(ws)).drift[0]!;
        samples += 1;
        worstNotInSync = Math.max(worstNotInSync, d.lastCheck?.notInSync ?? 0);
        slowestCheckMs = Math.max(slowestCheckMs, d.lastCheck?.durationMs ?? 0);
      }
      await load.stop();
      const summary = load.summary();
      const final = (await status(ws)).drift[0]!;
      const checks = final.checks - checksBefore;
      const written = before.map((id) => tmpfsBytes(ws, id));
      const newEntries = (await audit(ws)).slice(auditBefore).map((e) => e.action);
      console.log(
        JSON.stringify({
          soakMs: SOAK_MS,
          requests: summary.requests,
          failures: summary.failures,
          rps: Math.round(summary.requests / (SOAK_MS / 1000)),
          p99Ms: summary.p99Ms,
          driftChecks: checks,
          slowestCheckMs,
          statusSamples: samples,
          worstNotInSync,
          tmpfsBytesWritten: written,
          auditActions: [...new Set(newEntries)],
        }),
      );
      expect(summary.requests).toBeGreaterThan(0);
      expect(summary.failures).toBe(0);
      expect(worstNotInSync).toBe(0);
      expect(final.lastCheck?.notInSync).toBe(0);
      // Checks run back to back at worst, so at least one per interval plus the slowest check.
      expect(checks).toBeGreaterThanOrEqual(Math.floor(SOAK_MS / (INTERVAL_MS + slowestCheckMs)));
      expect((await instances(ws)).map((i) => i.id).sort()).toEqual(before);
      for (const bytes of written) expect(bytes).toBeGreaterThan(0);
      const driftEntries = newEntries.filter((a) => a.startsWith('drift.') || a.startsWith('instance.'));
      expect(driftEntries).toEqual([]);
    },
    SOAK_MS + SETUP_MS,
  );
});
