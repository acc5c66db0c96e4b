/**
 * Supervision and adoption with real runc, through the CLI as a user runs it: examples/hello is
 * deployed by `cairn up`; a kill -9 of an instance is answered by a new healthy instance of the same
 * release; `cairn up` killed with SIGKILL and restarted re-adopts the same instances, and stops a
 * container started behind its back. (The reconciler is the control plane's; this proves the
 * runtime contract it relies on.)
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageStore } from '../../src/artifact/index.js';
import { newInstanceId } from '../../src/lib/index.js';
import {
  createRuntimeDriver,
  detectDrivers,
  freeLoopbackPort,
  runtimeConfigFor,
} from '../../src/runtime/index.js';
import { waitFor } from '../../src/runtime/proc.js';
import { probeRunSpec } from '../../src/runtime/testing/probe-app.js';
import { createSqliteStateStore, type InstanceRecord, workspaceFor } from '../../src/state/index.js';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');
const CAIRN = join(REPO, 'bin/cairn.js');
const work = mkdtempSync(join(tmpdir(), 'cairn-rt-sup-'));
const project = join(work, 'hello');
const ws = workspaceFor(join(project, 'cairn.yaml'), {});
const runcUsable = detectDrivers().some((d) => d.kind === 'runc' && d.usable);
const driver = runcUsable ? createRuntimeDriver('runc', runtimeConfigFor(ws)) : undefined;

async function cairn(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CAIRN, ...args], {
    cwd: project,
    env: { ...process.env, CAIRN_HOME: '' },
  });
  return stdout;
}

function liveInstances(): InstanceRecord[] {
  const store = createSqliteStateStore({ path: ws.stateDb });
  try {
    return store.listInstances({ env: 'dev', service: 'hello', live: true });
  } finally {
    store.close();
  }
}

const healthy = () => liveInstances().filter((i) => i.state === 'healthy');
const controlPlanePid = () =>
  Number((JSON.parse(readFileSync(join(ws.root, 'api.json'), 'utf8')) as { pid: number }).pid);

beforeAll(async () => {
  if (!runcUsable) return;
  cpSync(join(REPO, 'examples/hello'), project, { recursive: true });
  await cairn('init');
  await cairn('secret', 'set', 'API_TOKEN', '--generate');
  await cairn('build', 'hello');
  await cairn('up', '--detach', '--driver', 'runc');
  await cairn('deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '120s');
}, 240_000);

afterAll(async () => {
  await cairn('down').catch(() => undefined);
  for (const h of (await driver?.list()) ?? []) await driver?.stop(h, 0);
  rmSync(work, { recursive: true, force: true });
});

describe.runIf(runcUsable)('Given examples/hello deployed by cairn up with the runc driver', () => {
  it('Then 2 healthy instances of one release run', async () => {
    expect(await waitFor(() => healthy().length === 2, 10_000)).toBe(true);
    expect(new Set(healthy().map((i) => i.releaseId)).size).toBe(1);
    expect((await driver!.list()).length).toBe(2);
  });

  it('When I ask cairn logs for an instance by id prefix, I see its output', async () => {
    const [one] = healthy();
    const out = await cairn('logs', one!.id.slice(0, 16));
    expect(out).toContain('"msg":"listening"');
  });

  it('When an instance is killed with kill -9, a new healthy instance of the same release serves within 3 s', async () => {
    const [victim, other] = healthy();
    const t0 = Date.now();
    process.kill(Number(victim!.handle.pid), 'SIGKILL');
    const replaced = await waitFor(() => {
      const now = healthy();
      return now.length === 2 && !now.some((i) => i.id === victim!.id) && now.some((i) => i.id === other!.id);
    }, 20_000);
    const elapsedMs = Date.now() - t0;
    const seen = JSON.stringify(liveInstances().map((i) => [i.id, i.state]));
    expect(replaced, `not replaced after ${elapsedMs} ms: ${seen}`).toBe(true);
    expect(elapsedMs, 'kill -9 → a new healthy instance, in ms').toBeLessThanOrEqual(3000);
    const fresh = healthy().find((i) => i.id !== other!.id)!;
    expect(fresh.releaseId).toBe(victim!.releaseId);
    // Healthy means the control plane's checks reach it (nothing else may: its network is isolated).
    expect(await cairn('logs', fresh.id)).toContain('"msg":"listening"');
    // The replaced instance's output stays readable.
    expect(await cairn('logs', victim!.id)).toContain('"msg":"listening"');
  });

  it('When cairn up is killed with SIGKILL and restarted, it adopts the same 2 and stops a stranger', async () => {
    const before = healthy()
      .map((i) => i.id)
      .sort();
    process.kill(controlPlanePid(), 'SIGKILL');
    const store = openImageStore(ws.store);
    const digest = liveInstances()[0]!.identity.imageDigest as string | undefined;
    const bundle = await driver!.prepare({
      digest: digest ?? (await store.resolve('hello:latest')).digest,
      source: store,
    });
    const stranger = await driver!.start({
      id: newInstanceId(),
      releaseId: 'rel-stranger0000',
      service: 'hello',
      env: 'dev',
      bundle,
      run: probeRunSpec(),
      port: await freeLoopbackPort(),
    });
    expect((await driver!.list()).map((h) => h.id)).toContain(stranger.id);

    await cairn('up', '--detach', '--driver', 'runc');

    expect(await waitFor(async () => !(await driver!.list()).some((h) => h.id === stranger.id), 10_000)).toBe(
      true,
    );
    expect(
      healthy()
        .map((i) => i.id)
        .sort(),
    ).toEqual(before);
    expect((await driver!.list()).map((h) => h.id).sort()).toEqual(before);
    expect(readFileSync(join(ws.logs, 'control-plane.log'), 'utf8')).toContain(stranger.id);
  });
});
