/**
 * The runtime conformance suite: every driver usable on this machine runs the same cases against a
 * real node service in a real image (built by `cairn build`'s builder), through the RuntimeDriver interface only.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newInstanceId } from '../../src/lib/index.js';
import {
  type Bundle,
  createRuntimeDriver,
  detectDrivers,
  freeLoopbackPort,
  type InstanceHandle,
  privateDirOf,
  type RuntimeDriver,
  type RuntimeKind,
} from '../../src/runtime/index.js';
import { descendants, waitFor } from '../../src/runtime/proc.js';
import { buildProbeImage, type FixtureImage } from '../../src/runtime/testing/fixture-image.js';
import { PROBE_CONFIG_FILE, PROBE_SERVER, probeRunSpec } from '../../src/runtime/testing/probe-app.js';
import type { RunSpec } from '../../src/spec/index.js';

const work = mkdtempSync(join(tmpdir(), 'cairn-rt-conf-'));
let image: FixtureImage;

beforeAll(async () => {
  image = await buildProbeImage(join(work, 'image'), PROBE_SERVER, { GREETING: 'from-image' });
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function get(port: number, path = '/'): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return (await res.json()) as Record<string, unknown>;
}

async function serves(port: number, timeoutMs = 5000): Promise<boolean> {
  return waitFor(
    async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true,
    timeoutMs,
  );
}

/** Every regular file under `dir`. */
const filesIn = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));

/** The service's own host process: the deepest process of the instance tree. */
const appPid = (h: InstanceHandle) => descendants(h.pid).at(-1) ?? h.pid;

// The process driver refuses to run instances as root (see process-driver.ts), so it runs here only
// when the suite itself is not root.
const isRoot = process.getuid?.() === 0;
const usable = detectDrivers()
  .filter((d) => d.usable && !(d.kind === 'process' && isRoot))
  .map((d) => d.kind);

describe.each(['runc', 'bwrap', 'process'] as RuntimeKind[])('runtime driver %s', (kind) => {
  const dirs = {
    bundlesDir: join(work, 'bundles'),
    runtimeDir: join(work, kind, 'runtime'),
    logsDir: join(work, kind, 'logs'),
  };
  let driver: RuntimeDriver;
  let bundle: Bundle;
  const started: InstanceHandle[] = [];

  async function startOne(
    extra: {
      secrets?: Record<string, string>;
      secretEnv?: Record<string, string>;
      files?: Record<string, string>;
      run?: RunSpec;
    } = {},
  ): Promise<InstanceHandle> {
    const port = await freeLoopbackPort();
    const handle = await driver.start({
      id: newInstanceId(),
      releaseId: 'rel-000000000001',
      service: 'probe',
      env: 'dev',
      bundle,
      port,
      vars: { GREETING: 'injected' },
      ...extra,
      run: extra.run ?? probeRunSpec(),
    });
    started.push(handle);
    return handle;
  }

  beforeAll(async () => {
    if (!usable.includes(kind)) return;
    driver = createRuntimeDriver(kind, { ...dirs, warn: () => {} });
    bundle = await driver.prepare({ digest: image.digest, source: image.source });
  });

  afterAll(async () => {
    for (const h of started) await driver?.stop(h, 0).catch(() => undefined);
  });

  it.runIf(usable.includes(kind))('Given a prepared bundle, preparing it again reuses it', async () => {
    const again = await driver.prepare({ digest: image.digest, source: image.source });
    expect(again.unpacked).toBe(false);
    expect(again.rootfs).toBe(bundle.rootfs);
  });

  it.runIf(usable.includes(kind))(
    'When an instance starts, it serves on its PORT with injected values, and logs',
    async () => {
      const h = await startOne();
      expect(h.kind).toBe(kind);
      expect(await serves(h.port), readFileSync(driver.logs(h), 'utf8')).toBe(true);
      expect(await get(h.port)).toMatchObject({ greeting: 'injected', port: String(h.port), writeTmp: 'ok' });
      expect((await driver.inspect(h)).status).toBe('running');
      expect((await driver.list()).map((x) => x.id)).toContain(h.id);
      expect(readFileSync(driver.logs(h), 'utf8')).toContain('"msg":"listening"');
    },
  );

  it.runIf(usable.includes(kind))(
    'When two instances of one bundle run, each serves on its own port',
    async () => {
      const [a, b] = [await startOne(), await startOne()];
      expect((await serves(a.port)) && (await serves(b.port))).toBe(true);
      expect(a.endpoint).not.toBe(b.endpoint);
    },
  );

  it.runIf(usable.includes(kind))(
    'When stopped, the service gets SIGTERM first and the instance is gone',
    async () => {
      const h = await startOne();
      expect(await serves(h.port), readFileSync(driver.logs(h), 'utf8')).toBe(true);
      await driver.stop(h, 3000);
      expect((await driver.inspect(h)).status).toBe('missing');
      expect((await driver.list()).map((x) => x.id)).not.toContain(h.id);
      expect(readFileSync(driver.logs(h), 'utf8')).toContain('"msg":"stopping"');
      await driver.stop(h, 0);
    },
  );

  it.runIf(usable.includes(kind))(
    'When its process is killed with SIGKILL, inspect reports it exited',
    async () => {
      const h = await startOne();
      expect(await serves(h.port), readFileSync(driver.logs(h), 'utf8')).toBe(true);
      process.kill(appPid(h), 'SIGKILL');
      expect(await waitFor(async () => (await driver.inspect(h)).status !== 'running', 3000)).toBe(true);
    },
  );

  it.runIf(usable.includes(kind))(
    'When it has secrets, the service reads them as files and they are not in its log',
    async () => {
      const h = await startOne({
        secrets: { API_TOKEN: 's3cret-value' },
        secretEnv: { DB_PASSWORD: 'env-s3cret' },
      });
      expect(await serves(h.port), readFileSync(driver.logs(h), 'utf8')).toBe(true);
      expect((await get(h.port, '/?secret=API_TOKEN')).secret).toBe('s3cret-value');
      expect((await get(h.port, '/?env=DB_PASSWORD')).env).toBe('env-s3cret');
      expect(readFileSync(driver.logs(h), 'utf8')).not.toContain('s3cret');
      // Nothing under the workspace's runtime folder holds a value: the secrets live in memory.
      const leaks = filesIn(dirs.runtimeDir).filter((f) => readFileSync(f, 'utf8').includes('s3cret'));
      expect(leaks).toEqual([]);
      await driver.stop(h, 2000);
      expect(existsSync(privateDirOf(dirs, h.id))).toBe(false);
    },
  );

  it.runIf(usable.includes(kind))(
    'When it mounts a volume, the service writes there and the next instance finds the file',
    async () => {
      const run = probeRunSpec({ volumes: [{ name: 'data', path: '/app/data' }] });
      if (kind === 'process') {
        await expect(startOne({ run })).rejects.toThrow(/cannot mount volumes/);
        return;
      }
      const first = await startOne({ run });
      expect(await serves(first.port), readFileSync(driver.logs(first), 'utf8')).toBe(true);
      expect(await get(first.port, '/?data=kept.txt')).toMatchObject({ writeData: 'ok' });
      await driver.stop(first, 2000);
      expect(existsSync(join(work, kind, 'volumes', 'dev', 'data', 'kept.txt'))).toBe(true);
      const second = await startOne({ run });
      expect(await serves(second.port), readFileSync(driver.logs(second), 'utf8')).toBe(true);
      expect(await get(second.port)).toMatchObject({
        dataFiles: ['kept.txt'],
        writeApp: expect.stringMatching(/EROFS|EACCES/),
      });
    },
  );

  it.runIf(usable.includes(kind))(
    'When it has a configuration file, the service reads it at its path and cannot write it',
    async () => {
      const files = { [PROBE_CONFIG_FILE]: '{"level":"warn"}' };
      if (kind === 'process') {
        await expect(startOne({ files })).rejects.toThrow(/cannot mount configuration files/);
        return;
      }
      const h = await startOne({ files });
      expect(await serves(h.port), readFileSync(driver.logs(h), 'utf8')).toBe(true);
      expect(await get(h.port, '/?config=1')).toMatchObject({
        config: '{"level":"warn"}',
        writeConfig: expect.stringMatching(/EROFS|EACCES/),
      });
      // Without one, the instance sees the bundle's empty mount point: nothing leaks between instances.
      const plain = await startOne();
      expect(await serves(plain.port)).toBe(true);
      expect((await get(plain.port)).config).toBe('');
      await driver.stop(h, 2000);
      expect(existsSync(privateDirOf(dirs, h.id))).toBe(false);
    },
  );
});
