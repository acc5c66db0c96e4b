import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundleTempName, isStaleTemp, sweepBundleTemps } from './bundle-temps.js';

describe('isStaleTemp', () => {
  const facts = { isAlive: (pid: number) => pid === 42, mtimeMs: 1_000, startedAtMs: 2_000 };
  it('is stale when the process named in it is gone, in use while it lives', () => {
    expect(isStaleTemp(bundleTempName('abcdef012345', 7, '0badf00d'), facts)).toBe(true);
    expect(isStaleTemp(bundleTempName('abcdef012345', 42, '0badf00d'), facts)).toBe(false);
  });
  it('takes a name without a pid as stale only when older than this process', () => {
    expect(isStaleTemp('.tmp-abcdef012345-0badf00d', facts)).toBe(true);
    expect(isStaleTemp('.tmp-abcdef012345-0badf00d', { ...facts, mtimeMs: 3_000 })).toBe(false);
  });
  it('never takes a published bundle', () => {
    expect(isStaleTemp('abcdef0123456789', facts)).toBe(false);
  });
});

describe('sweepBundleTemps', () => {
  let dir: string;
  const children: Array<{ kill: (s: NodeJS.Signals) => boolean }> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-bundles-'));
  });
  afterEach(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** A process that starts unpacking (sealed folders included) and is then killed with -9 or kept running. */
  async function unpacker(killed: boolean): Promise<string> {
    const script = `
      const fs = require('node:fs'); const path = require('node:path');
      const tmp = path.join(${JSON.stringify(dir)}, '.tmp-abcdef012345-' + process.pid + '-0badf00d');
      fs.mkdirSync(path.join(tmp, 'rootfs/usr/bin'), { recursive: true });
      fs.writeFileSync(path.join(tmp, 'rootfs/usr/bin/app'), 'half');
      fs.chmodSync(path.join(tmp, 'rootfs/usr/bin'), 0o555);
      fs.chmodSync(path.join(tmp, 'rootfs/usr'), 0o555);
      process.stdout.write(path.basename(tmp) + '\\n');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const name = await new Promise<string>((resolve) =>
      child.stdout.once('data', (d) => resolve(String(d).trim())),
    );
    if (killed) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    return name;
  }

  it('removes what a process killed with -9 left, and keeps what a live one is filling', async () => {
    const dead = await unpacker(true);
    const alive = await unpacker(false);
    const mine = bundleTempName('abcdef012345', process.pid, '12345678');
    mkdirSync(join(dir, mine));
    mkdirSync(join(dir, '.tmp-abcdef012345-deadbeef'));
    utimesSync(join(dir, '.tmp-abcdef012345-deadbeef'), new Date(0), new Date(0));
    mkdirSync(join(dir, 'abcdef0123456789'));
    writeFileSync(join(dir, 'abcdef0123456789/bundle.json'), '{}');

    const removed = await sweepBundleTemps(dir);

    expect(removed.sort()).toEqual(['.tmp-abcdef012345-deadbeef', dead].sort());
    expect(readdirSync(dir).sort()).toEqual([alive, mine, 'abcdef0123456789'].sort());
    expect(existsSync(join(dir, dead))).toBe(false);
  });

  it('does nothing when the bundles folder does not exist yet', async () => {
    expect(await sweepBundleTemps(join(dir, 'none'))).toEqual([]);
  });
});
