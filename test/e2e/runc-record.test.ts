/**
 * The drift check reads a runc container's processes and bundle from what runc recorded (its
 * state.json and the container's cgroup) instead of spawning `runc ps` and `runc state`: checked
 * here against runc itself, on a live container holding a process `runc exec` put in it (whose
 * parent is outside the container).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentRuncRecord, recordedPids } from '../../src/drift/runc-record.js';
import { newInstanceId } from '../../src/lib/index.js';
import {
  createRuntimeDriver,
  detectDrivers,
  freeLoopbackPort,
  type InstanceHandle,
  type RuntimeDriver,
} from '../../src/runtime/index.js';
import { waitFor } from '../../src/runtime/proc.js';
import { buildProbeImage } from '../../src/runtime/testing/fixture-image.js';
import { PROBE_SERVER, probeRunSpec } from '../../src/runtime/testing/probe-app.js';

const work = mkdtempSync(join(tmpdir(), 'cairn-runc-record-'));
const runcRoot = join(work, 'runtime', 'runc');
const usable = detectDrivers().some((d) => d.kind === 'runc' && d.usable);
let driver: RuntimeDriver;
let handle: InstanceHandle | undefined;
let intruder: ChildProcess | undefined;

const runc = (...args: string[]) => execFileSync('runc', ['--root', runcRoot, ...args], { encoding: 'utf8' });
const runcPs = (id: string) =>
  (JSON.parse(runc('ps', '--format', 'json', id)) as number[]).sort((a, b) => a - b);

afterAll(async () => {
  intruder?.kill('SIGKILL');
  if (handle) await driver.stop(handle, 0).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

describe.runIf(usable)('runc record: what runc recorded about a live container', () => {
  beforeAll(async () => {
    const probe = await buildProbeImage(join(work, 'probe'), PROBE_SERVER);
    driver = createRuntimeDriver('runc', {
      bundlesDir: join(work, 'bundles'),
      runtimeDir: join(work, 'runtime'),
      logsDir: join(work, 'logs'),
    });
    const bundle = await driver.prepare({ digest: probe.digest, source: probe.source });
    const port = await freeLoopbackPort();
    const spec = { releaseId: 'rel-0123456789ab', service: 'probe', env: 'dev', bundle, port };
    handle = await driver.start({ id: newInstanceId(), run: probeRunSpec({ tmpfs: ['/tmp'] }), ...spec });
    const up = await waitFor(
      async () => (await fetch(`http://${handle!.endpoint}/healthz`).catch(() => undefined))?.ok === true,
      5000,
    );
    expect(up, readFileSync(handle.logPath, 'utf8')).toBe(true);
  }, 120_000);

  it('Given a process entered with runc exec, then the cgroup lists exactly the pids runc ps lists', async () => {
    const id = handle!.id;
    intruder = spawn('runc', ['--root', runcRoot, 'exec', id, 'node', '-e', 'setTimeout(() => {}, 60000)'], {
      stdio: 'ignore',
    });
    expect(await waitFor(() => runcPs(id).length >= 2, 5000)).toBe(true);

    const { pid, startedAt } = await driver.inspect(handle!);
    expect(startedAt).toBeDefined();
    const record = await currentRuncRecord(runcRoot, id, pid!);
    expect(record).toBeDefined();
    const fromCgroup = (await recordedPids(record!))!.sort((a, b) => a - b);
    expect(fromCgroup).toEqual(runcPs(id));
    // The exec'd process's parent is outside the container: only its cgroup says it is inside.
    const extra = fromCgroup.find((p) => p !== pid)!;
    const parent = Number(readFileSync(`/proc/${extra}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    expect(fromCgroup).not.toContain(parent);
    expect(record!.bundle).toBe((JSON.parse(runc('state', id)) as { bundle: string }).bundle);
  });

  it('Given another pid than the container init, then there is no record (runc is asked instead)', async () => {
    const { pid } = await driver.inspect(handle!);
    expect(await currentRuncRecord(runcRoot, handle!.id, pid! + 100_000)).toBeUndefined();
  });

  it('Given the container stopped, then there is no record', async () => {
    const { id } = handle!;
    const { pid } = await driver.inspect(handle!);
    await driver.stop(handle!, 0);
    handle = undefined;
    expect(await currentRuncRecord(runcRoot, id, pid!)).toBeUndefined();
  });
});
