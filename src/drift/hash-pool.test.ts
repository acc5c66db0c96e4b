import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError } from '../lib/index.js';
import { LARGE_FILE_BYTES } from './hash-jobs.js';
import { createHashPool, type HashPool } from './hash-pool.js';
import { listRootfs } from './observe-files.js';

const sha = (body: Buffer | string) => `sha256:${createHash('sha256').update(body).digest('hex')}`;

/** Compiles the worker entry (and the pool, for a child process) the way `npm run build` would. */
async function compile(dir: string): Promise<{ worker: URL; pool: string }> {
  const common = {
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    logLevel: 'silent' as const,
  };
  await build({
    ...common,
    entryPoints: [join(import.meta.dirname, 'hash-worker.ts')],
    outfile: join(dir, 'hash-worker.js'),
  });
  await build({
    ...common,
    entryPoints: [join(import.meta.dirname, 'hash-pool.ts')],
    outfile: join(dir, 'hash-pool.js'),
  });
  return { worker: pathToFileURL(join(dir, 'hash-worker.js')), pool: join(dir, 'hash-pool.js') };
}

describe('the hash pool, in real worker threads', () => {
  let dir: string;
  let compiled: { worker: URL; pool: string };
  let pool: HashPool;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-hash-pool-'));
    compiled = await compile(join(dir, 'dist'));
    pool = createHashPool({ threads: 2, workerUrl: compiled.worker });
  });
  afterAll(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists and hashes a rootfs exactly as sha256sum sees it, big files included', async () => {
    const root = join(dir, 'rootfs');
    const paths: string[] = [];
    for (let i = 0; i < 300; i++) {
      mkdirSync(join(root, `d${i % 13}/e${i % 5}`), { recursive: true });
      paths.push(`d${i % 13}/e${i % 5}/f${i}`);
      writeFileSync(join(root, paths.at(-1)!), Buffer.alloc(i * 37, i));
    }
    paths.push('big');
    writeFileSync(join(root, 'big'), Buffer.alloc(LARGE_FILE_BYTES + 1, 7));
    symlinkSync('d0', join(root, 'link'));
    const files = await listRootfs(root, pool);
    const sums = execFileSync('sha256sum', paths, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
    const want = new Map(
      sums
        .trim()
        .split('\n')
        .map((l) => [`/${l.slice(66)}`, `sha256:${l.slice(0, 64)}`]),
    );
    const regular = files.filter((f) => f.type === 'file');
    expect(regular.map((f) => [f.path, f.digest])).toEqual(regular.map((f) => [f.path, want.get(f.path)]));
    expect(regular).toHaveLength(301);
    expect(files.find((f) => f.path === '/link')).toEqual({
      path: '/link',
      type: 'symlink',
      mode: 0o777,
      size: 0,
      target: 'd0',
    });
    expect(files.map((f) => f.path)).toEqual([...files.map((f) => f.path)].sort());
    expect(await listRootfs(root, createHashPool({ threads: 1 }))).toEqual(files); // in-thread, from sources
  });

  it('fails a missing rootfs with the fs error code, and keeps working after', async () => {
    await expect(listRootfs(join(dir, 'nope'), pool)).rejects.toMatchObject({ code: 'ENOENT' });
    const file = join(dir, 'one');
    writeFileSync(file, 'x');
    expect(await pool.hash([file])).toEqual([sha('x')]);
  });

  it('never follows a symlink or blocks on a fifo swapped in for a file', async () => {
    const link = join(dir, 'swapped-link');
    symlinkSync('/etc/hostname', link);
    const fifo = join(dir, 'swapped-fifo');
    execFileSync('mkfifo', [fifo]);
    const [viaLink, viaFifo] = await pool.hash([link, fifo]);
    expect(viaLink).toBe('unreadable (ELOOP)');
    expect(viaFifo).toMatch(/^(sha256:|unreadable)/);
  });

  it('fails a job whose worker dies with an error saying so', async () => {
    const dying = join(dir, 'dying.mjs');
    writeFileSync(dying, 'process.exit(3);\n');
    const broken = createHashPool({ threads: 1, workerUrl: pathToFileURL(dying) });
    try {
      const failure = await broken.hash([dying]).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(CairnError);
      expect((failure as Error).message).toBe('hashing files: a worker thread failed: exited with code 3');
    } finally {
      await broken.close();
    }
  });

  it('keeps the process alive while a job runs, and not one moment longer while idle', () => {
    const file = join(dir, 'alive');
    writeFileSync(file, 'alive');
    const script = `
      const { createHashPool } = await import(${JSON.stringify(pathToFileURL(compiled.pool).href)});
      const pool = createHashPool({ threads: 2, idleCloseMs: 60000, workerUrl: new URL(${JSON.stringify(compiled.worker.href)}) });
      console.log((await pool.hash([${JSON.stringify(file)}]))[0]);`;
    const started = Date.now();
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe(sha('alive'));
    expect(child.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000); // not the 60 s idle period
  });

  it('lets idle workers go after the quiet period, and starts them again for the next job', async () => {
    const quick = createHashPool({ threads: 2, idleCloseMs: 50, workerUrl: compiled.worker });
    const file = join(dir, 'again');
    writeFileSync(file, 'again');
    try {
      expect(await quick.hash([file])).toEqual([sha('again')]);
      await new Promise((r) => setTimeout(r, 300));
      expect(await Promise.all([quick.hash([file]), quick.hash([file]), quick.hash([file])])).toEqual([
        [sha('again')],
        [sha('again')],
        [sha('again')],
      ]);
    } finally {
      await quick.close();
    }
  });

  it('rejects the jobs still queued when closed', async () => {
    const closing = createHashPool({ threads: 1, workerUrl: compiled.worker });
    const file = join(dir, 'one');
    const jobs = [closing.hash([file]), closing.hash([file]), closing.hash([file])].map((p) =>
      p.catch((e: Error) => e.message),
    );
    await closing.close();
    expect(await Promise.all(jobs)).toContain('hashing files: the hash pool was closed');
  });
});
