import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestHex } from '../lib/index.js';
import { prepareBundle } from '../runtime/index.js';
import { type MemoryImage, memoryImage } from '../runtime/testing/memory-image.js';
import { BundleSpares, matchesManifest, SPARES_DIR } from './spares.js';

const LAYER = [
  { name: 'app/', type: 'directory' as const, mode: 0o755 },
  { name: 'app/server.js', body: 'console.log(1)\n', mode: 0o644 },
];

async function until(probe: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (probe()) return true;
    await sleep(20);
  }
  return probe();
}

describe('BundleSpares: a verified, watched copy of each live bundle', () => {
  let dir: string;
  let image: MemoryImage;
  let spares: BundleSpares;
  let prepared = 0;
  const spareDir = () => join(dir, SPARES_DIR, digestHex(image.digest));

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-spares-'));
    image = await memoryImage([LAYER]);
    prepared = 0;
    spares = new BundleSpares({
      storeDir: join(dir, 'store'),
      bundlesDir: dir,
      refillDelayMs: 300,
      prepare: async (job) => {
        prepared++;
        await prepareBundle(image, job.digest, job.bundlesDir);
      },
    });
  });
  afterEach(async () => {
    await spares.close();
    execFileSync('chmod', ['-R', 'u+w', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('prepares a spare beside the live bundles and swaps it into place with one rename', async () => {
    spares.sync(new Set([image.digest]));
    expect(await until(() => spares.ready(image.digest))).toBe(true);
    const dest = join(dir, digestHex(image.digest));
    expect(await spares.moveInto(image.digest, dest)).toBe(true);
    expect(readFileSync(join(dest, 'rootfs/app/server.js'), 'utf8')).toBe('console.log(1)\n');
    expect(existsSync(spareDir())).toBe(false);
    expect(spares.ready(image.digest)).toBe(false);
    expect(await spares.moveInto(image.digest, dest)).toBe(false);
  });

  it('prepares the next spare only after the refill delay, so unpacking does not slow the replacements', async () => {
    spares.sync(new Set([image.digest]));
    await until(() => spares.ready(image.digest));
    await spares.moveInto(image.digest, join(dir, 'live'));
    spares.sync(new Set([image.digest]));
    expect(prepared).toBe(1);
    await sleep(350);
    spares.sync(new Set([image.digest]));
    expect(await until(() => spares.ready(image.digest))).toBe(true);
    expect(prepared).toBe(2);
  });

  it('after a failed unpack (a full disk) tries again only after the retry delay, not at every sync', async () => {
    let failing = true;
    const tried: number[] = [];
    const flaky = new BundleSpares({
      storeDir: join(dir, 'store'),
      bundlesDir: dir,
      failedRetryMs: 300,
      prepare: async (job) => {
        tried.push(Date.now());
        if (failing)
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        await prepareBundle(image, job.digest, job.bundlesDir);
      },
    });
    try {
      flaky.sync(new Set([image.digest]));
      await sleep(50);
      for (let i = 0; i < 5; i++) flaky.sync(new Set([image.digest]));
      expect(tried).toHaveLength(1);
      await sleep(300);
      flaky.sync(new Set([image.digest]));
      await sleep(50);
      expect(tried).toHaveLength(2);
      failing = false;
      await sleep(600); // the second failure in a row doubles the wait
      flaky.sync(new Set([image.digest]));
      expect(await until(() => flaky.ready(image.digest))).toBe(true);
      expect(tried).toHaveLength(3);
    } finally {
      await flaky.close();
    }
  });

  it('discards a spare that is written to, and prepares a pristine one on the next sync', async () => {
    spares.sync(new Set([image.digest]));
    await until(() => spares.ready(image.digest));
    const file = join(spareDir(), 'rootfs/app/server.js');
    chmodSync(file, 0o644);
    appendFileSync(file, 'x');
    expect(await until(() => !spares.ready(image.digest))).toBe(true);
    expect(await until(() => !existsSync(spareDir()))).toBe(true);
    spares.sync(new Set([image.digest]));
    expect(await until(() => spares.ready(image.digest))).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('console.log(1)\n');
  });

  it('never offers a spare changed before its watch was set up: hashed whole against its manifest first', async () => {
    await spares.close();
    let tampered = false;
    spares = new BundleSpares({
      storeDir: join(dir, 'store'),
      bundlesDir: dir,
      prepare: async (job) => {
        prepared++;
        const bundle = await prepareBundle(image, job.digest, job.bundlesDir);
        if (prepared > 1) return;
        chmodSync(join(bundle.rootfs, 'app/server.js'), 0o644);
        appendFileSync(join(bundle.rootfs, 'app/server.js'), 'x');
        tampered = true;
      },
    });
    spares.sync(new Set([image.digest]));
    expect(await until(() => tampered)).toBe(true);
    expect(await until(() => !existsSync(spareDir()))).toBe(true);
    expect(spares.ready(image.digest)).toBe(false);
    spares.sync(new Set([image.digest]));
    expect(await until(() => spares.ready(image.digest))).toBe(true);
    expect(await matchesManifest(spareDir())).toBe(true);
  });

  it('removes the spare of an image nothing runs on any more, and spares left by an earlier run', async () => {
    const stale = join(dir, SPARES_DIR, 'f'.repeat(64));
    mkdirSync(stale, { recursive: true });
    spares.sync(new Set([image.digest]));
    await until(() => spares.ready(image.digest));
    expect(existsSync(stale)).toBe(false);
    spares.sync(new Set());
    expect(spares.ready(image.digest)).toBe(false);
    expect(await until(() => !existsSync(spareDir()))).toBe(true);
  });
});
