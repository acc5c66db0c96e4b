/**
 * `inspect` of the runc driver against a stand-in `runc` that records each call: a container whose
 * recorded init process still lives is known to run without spawning runc; any other is asked.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readStat } from '../proc.js';
import type { InstanceHandle } from '../types.js';
import { createRuncDriver } from './runc-driver.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-runc-inspect-'));
const calls = join(dir, 'calls');
const fakeRunc = join(dir, 'runc');
writeFileSync(calls, '');
// Answers `state` as runc does for a container that no longer exists.
writeFileSync(
  fakeRunc,
  `#!/bin/sh\necho "$*" >> ${calls}\necho 'container "x" does not exist' >&2\nexit 1\n`,
);
chmodSync(fakeRunc, 0o755);
const driver = createRuncDriver({
  binary: fakeRunc,
  bundlesDir: join(dir, 'bundles'),
  runtimeDir: join(dir, 'runtime'),
  logsDir: join(dir, 'logs'),
});
const handle = (pid: number, pidStartTicks: number): InstanceHandle => ({
  id: `ins-${pid}-${pidStartTicks}`,
  kind: 'runc',
  releaseId: 'rel-1',
  service: 'web',
  env: 'dev',
  imageDigest: `sha256:${'a'.repeat(64)}`,
  endpoint: '127.0.0.1:8080',
  port: 8080,
  logPath: join(dir, 'log'),
  startedAt: '2026-12-07T10:00:00.000Z',
  pid,
  pidStartTicks,
});
const runcCalls = () => readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runc driver inspect', () => {
  it('knows a container runs while its recorded init lives, and asks runc once it is gone', async () => {
    const init = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = init.pid!;
    const startTicks = readStat(pid)!.startTicks;
    try {
      expect(await driver.inspect(handle(pid, startTicks))).toMatchObject({ status: 'running', pid });
      expect(runcCalls()).toEqual([]);
    } finally {
      init.kill('SIGKILL');
      await new Promise((r) => init.once('exit', r));
    }
    expect(await driver.inspect(handle(pid, startTicks))).toEqual({
      id: `ins-${pid}-${startTicks}`,
      status: 'missing',
    });
    expect(runcCalls()).toEqual([expect.stringMatching(/ state ins-/)]);
  });

  it('asks runc when the pid now belongs to another process, or none was recorded', async () => {
    writeFileSync(calls, '');
    const other = handle(process.pid, readStat(process.pid)!.startTicks + 1);
    expect((await driver.inspect(other)).status).toBe('missing');
    expect((await driver.inspect(handle(0, 0))).status).toBe('missing');
    expect(runcCalls()).toHaveLength(2);
  });
});
