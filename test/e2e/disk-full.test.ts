/**
 * Runbook: the disk under the workspace fills up (a tmpfs we mount and fill) while real instances
 * serve under load. The gateway keeps serving; the control plane warns once, drops the access log,
 * shows the full disk in `cairn status` and refuses changes with exit 1 naming the disk; a rollout
 * that cannot unpack its release fails with that reason. When space returns it carries on by
 * itself: the access log resumes (one line says so) and a deploy succeeds.
 * Both gateway engines (the built-in proxy and HAProxy, each in its own gateway process).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Load } from '../../scripts/load.mjs';
import { cairnAsync } from '../helpers/cli.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const isRoot = process.getuid?.() === 0;
const NOT_A_BUG = /internal error|This is a bug|\n +at /;
/**
 * Room for the store (40 MB), two releases of hello unpacked (about 100 MB each) and a spare copy
 * of each that drift keeps, and the logs (the access log alone up to 2 × 64 MiB: it is rotated).
 */
const TMPFS_SIZE = '768m';
const STEP_MS = 300_000;

interface DiskJson {
  path: string;
  full: boolean;
  freeBytes?: number;
  error?: string;
}

describe.runIf(isRoot).each(['builtin', 'haproxy'] as const)(
  'a full disk under the workspace (%s gateway engine)',
  (engine) => {
    let ws: HelloWorkspace;
    let mount: string;
    let home: string;
    let load: Load;
    let port: number;
    const filler = () => join(mount, 'filler');
    const run = (args: string[], input?: string) =>
      cairnAsync(args, {
        cwd: ws.dir,
        env: { CAIRN_HOME: home },
        timeoutMs: 180_000,
        ...(input ? { input } : {}),
      });
    const disk = async () => JSON.parse((await run(['status', '-o', 'json'])).stdout).disk as DiskJson;
    const controlPlaneLog = () => readFileSync(join(home, 'logs', 'control-plane.log'), 'utf8');
    const accessLog = () => join(home, 'logs', 'gateway-access.log');
    /** Bytes of the access log and its rotated copy: under load it grows by megabytes a second. */
    const accessLogBytes = () =>
      [accessLog(), `${accessLog()}.1`].reduce((sum, f) => sum + (existsSync(f) ? statSync(f).size : 0), 0);
    const freeBytes = () => {
      const s = statfsSync(mount);
      return s.bavail * s.bsize;
    };
    /**
     * Waits until nothing is being unpacked (the free space, the growing access log aside, holds
     * still for 1.5 s): a spare bundle drift is unpacking would fail on the filled disk and give its
     * 100 MB back.
     */
    const settled = async () => {
      const used = () => freeBytes() + accessLogBytes();
      let last = used();
      const deadline = Date.now() + 120_000;
      for (let still = 0; still < 3; ) {
        if (Date.now() > deadline) throw new Error(`the disk never held still: ${diskReport()}`);
        await sleep(500);
        const now = used();
        still = Math.abs(now - last) < 1024 * 1024 ? still + 1 : 0;
        last = now;
      }
    };
    /** What uses the disk, for a failure message. */
    const diskReport = () =>
      `${freeBytes()} bytes free; ${spawnSync('du', ['-k', '--max-depth=2', mount], { encoding: 'utf8' }).stdout}`;
    /** Fills the tmpfs (appending to the filler) so that only `leaveBytes` stay free; dd stops at ENOSPC. */
    const fill = (leaveBytes = 0) => {
      const mib = Math.max(0, Math.floor((freeBytes() - leaveBytes) / 1024 / 1024));
      spawnSync('dd', [
        'if=/dev/zero',
        `of=${filler()}`,
        'bs=1M',
        'oflag=append',
        'conv=notrunc',
        `count=${leaveBytes ? mib : mib + 64}`,
      ]);
    };
    const waitFor = async (what: string, check: () => Promise<boolean>, ms = 20_000) => {
      const deadline = Date.now() + ms;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`waiting for ${what}: still not so after ${ms} ms`);
        await sleep(100);
      }
    };

    beforeAll(async () => {
      port = await freePort();
      ws = new HelloWorkspace(helloSpec(port, '{ strategy: bluegreen }', engine));
      mount = mkdtempSync(join(tmpdir(), 'cairn-disk-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', mount]);
      home = join(mount, 'ws');
      expect((await run(['init'])).code).toBe(0);
      expect((await run(['build', 'hello'])).code).toBe(0);
      expect((await run(['up', '--detach'])).code).toBe(0);
      const first = await run([
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
      expect(first.code, first.stderr).toBe(0);
      // v2 is built now: building needs the disk too, and the point is deploying it when it is full.
      ws.useConfig('v2', { version: 'v2' });
      expect((await run(['build', 'hello'])).code).toBe(0);
      load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 4 }).start(10 * 60_000);
    }, STEP_MS);

    afterAll(async () => {
      await load?.stop();
      if (mount) rmSync(filler(), { force: true });
      if (home && existsSync(home)) await run(['down']);
      ws && rmSync(ws.dir, { recursive: true, force: true });
      if (mount) {
        if (spawnSync('umount', [mount]).status !== 0) spawnSync('umount', ['-l', mount]);
        rmSync(mount, { recursive: true, force: true });
      }
    }, STEP_MS);

    it(
      'Given the disk fills up under load, Then traffic is still served, status shows the full disk, and changes fail with exit 1 naming it',
      async () => {
        await settled();
        const from = Date.now();
        fill();
        await waitFor('status to show the full disk', async () => (await disk()).full);
        await sleep(3000); // traffic while full
        const status = await run(['status']);
        expect(status.stdout).toContain(`disk: FULL: no space left on device at ${home}`);
        expect((await disk()).freeBytes).toBeLessThan(1024 * 1024);

        for (const [args, input] of [
          [['secret', 'set', 'API_TOKEN'], 's3cret'],
          [['token', 'create', '--name', 'alice', '--role', 'viewer'], undefined],
          [['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '60s'], undefined],
        ] as const) {
          const r = await run([...args], input);
          expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
          expect(r.stderr).toMatch(new RegExp(`error: .*no space left on device: .*${home}`));
          expect(r.stderr).toContain(`hint: free space on that disk (\`df -h ${home}`);
          expect(r.stderr).not.toMatch(NOT_A_BUG);
        }
        const during = load.summary(from, Date.now());
        console.log(`${engine}: while full: ${during.requests} requests, ${during.failures} failed`);
        expect(during.requests).toBeGreaterThan(100);
        expect(during.failures).toBe(0);
        expect((await disk()).full).toBe(true);
      },
      STEP_MS,
    );

    it(
      'When the space returns, Then cairn recovers by itself: one warning and one recovery line in each log, the access log written again, a deploy succeeds',
      async () => {
        rmSync(filler());
        const t0 = Date.now();
        // Generous: beside a full test suite every `cairn status` here may take seconds.
        let last: DiskJson | undefined;
        await waitFor(
          'the disk to count as recovered',
          async () => {
            last = await disk();
            return !last.full;
          },
          60_000,
        ).catch((error: Error) => {
          throw new Error(`${error.message}; status: ${JSON.stringify(last)}; ${diskReport()}`);
        });
        console.log(`${engine}: recovered ${Date.now() - t0} ms after the filler was removed`);
        await waitFor(
          'the access log to be written again',
          async () => existsSync(accessLog()) && statSync(accessLog()).mtimeMs > t0,
          15_000,
        );

        // The control plane and the gateway process (its own log) each warn once and say once that it is over.
        const log = controlPlaneLog();
        expect(log.match(/"msg":"disk full: no space left on device/g)).toHaveLength(1);
        expect(log.match(/"msg":"disk has space again/g)).toHaveLength(1);
        const gatewayLog = readFileSync(join(home, 'logs', 'gateway-dev.log'), 'utf8');
        expect(gatewayLog.match(/"msg":"disk full: no space left on device/g)).toHaveLength(1);
        const resumed =
          gatewayLog.match(/\{[^\n]*"msg":"disk has space again[^\n]*the access log resumed[^\n]*/g) ?? [];
        expect(resumed).toHaveLength(1);
        expect(JSON.parse(resumed[0]!).accessLogDropped).toBeGreaterThan(100);

        const from = Date.now();
        const r = await run([
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
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(load.summary(from, Date.now()).failures).toBe(0);
      },
      STEP_MS,
    );

    it(
      'Given too little space to unpack a new release, When it is deployed, Then the rollout fails with that reason instead of progressing for ever, and v2 keeps serving',
      async () => {
        ws.useConfig('v3', { version: 'v3' });
        expect((await run(['build', 'hello'])).code).toBe(0);
        await settled();
        fill(20 * 1024 * 1024); // above "full", below one unpacked release
        const from = Date.now();
        const r = await run([
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
        console.log(`${engine}: the rollout failed after ${Date.now() - from} ms`);
        expect(r.code).toBe(1);
        expect(r.stdout).toMatch(
          /failed \(done\).*new instances of rel-[0-9a-f]+ failed \d+ times; last: .*no space left on device/,
        );
        expect(r.stderr).not.toMatch(NOT_A_BUG);
        expect(load.summary(from, Date.now()).failures).toBe(0);
        await sleep(1000);
        const last = load.summary(Date.now() - 1000, Date.now());
        expect(Object.keys(last.versions)).toEqual(['v2']);
        rmSync(filler());
      },
      STEP_MS,
    );
  },
);
