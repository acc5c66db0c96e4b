#!/usr/bin/env node
// Benchmark: `cairn build` of examples/hello — cold, warm with no change, and after one application
// file changed — against `buildah bud` (vfs storage, chroot isolation, --layers) on an equivalent
// Containerfile, in the same run. Prints JSON and a one-line summary. Needs `npm run build` first.
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openImageStore } from '../dist/artifact/index.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CAIRN = join(ROOT, 'bin/cairn.js');
const TARGET_ONE_FILE_RATIO = 5;
const STEP_TIMEOUT_MS = 300_000;

function timed(fn) {
  const start = process.hrtime.bigint();
  const value = fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout: STEP_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.error?.message || '').trim().slice(-400)}`,
    );
  return r.stdout;
}

function cairnBuild(dir) {
  const t = timed(() => JSON.parse(run(process.execPath, [CAIRN, 'build', '--output', 'json'], dir)));
  const image = t.value.images[0];
  // seconds: wall time of the CLI (what buildah is compared with); buildSeconds: what cairn reports for the build itself.
  return {
    seconds: round(t.seconds),
    buildSeconds: image.seconds,
    digest: image.digest,
    layersCached: image.layers.map((l) => l.cached),
  };
}

function touchApp(file) {
  appendFileSync(file, `// changed at ${Date.now()}\n`);
}

async function benchCairn(work) {
  const dir = join(work, 'cairn');
  cpSync(join(ROOT, 'examples/hello'), dir, { recursive: true });
  run(process.execPath, [CAIRN, 'init'], dir);
  const cold = cairnBuild(dir);
  const warm = cairnBuild(dir);
  touchApp(join(dir, 'app/server.js'));
  const oneFile = cairnBuild(dir);
  return { result: { cold, warm, oneFile }, dir, digest: cold.digest };
}

/** The same image for buildah: the cairn base layer unpacked as a folder, then app and config. */
async function stageBuildah(work, cairnDir, digest) {
  const ctx = join(work, 'buildah-ctx');
  mkdirSync(join(ctx, 'base-rootfs'), { recursive: true });
  const store = openImageStore(join(cairnDir, '.cairn/store'));
  const manifest = await store.readManifest(digest);
  execFileSync('tar', ['-xzf', store.blobPath(manifest.layers[0].digest), '-C', join(ctx, 'base-rootfs')]);
  cpSync(join(ROOT, 'examples/hello/app'), join(ctx, 'app'), { recursive: true });
  cpSync(join(ROOT, 'examples/hello/config/v1.json'), join(ctx, 'config.json'));
  writeFileSync(
    join(ctx, 'Containerfile'),
    [
      'FROM scratch',
      'COPY base-rootfs/ /',
      'COPY app/ /app/',
      'COPY config.json /etc/hello/config.json',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GREETING=hi',
      'WORKDIR /app',
      'USER 65532:65532',
      'EXPOSE 8080',
      'ENTRYPOINT ["node", "server.js"]',
      '',
    ].join('\n'),
  );
  return ctx;
}

function benchBuildah(work, ctx) {
  const storage = [
    '--root',
    join(work, 'buildah-root'),
    '--runroot',
    join(work, 'buildah-runroot'),
    '--storage-driver',
    'vfs',
  ];
  const bud = () =>
    round(
      timed(() =>
        run(
          'buildah',
          [
            ...storage,
            'bud',
            '--isolation',
            'chroot',
            '--layers',
            '-q',
            '-f',
            'Containerfile',
            '-t',
            'cairn-bench/hello',
            '.',
          ],
          ctx,
        ),
      ).seconds,
    );
  const cold = bud();
  const warm = bud();
  touchApp(join(ctx, 'app/server.js'));
  const oneFile = bud();
  return { cold: { seconds: cold }, warm: { seconds: warm }, oneFile: { seconds: oneFile } };
}

const round = (s) => Math.round(s * 1000) / 1000;
const ratio = (a, b) => (a && b ? Math.round((a / b) * 10) / 10 : null);

const work = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
const out = {
  bench: 'build',
  example: 'examples/hello',
  node: process.version,
  cores: (await import('node:os')).cpus().length,
};
try {
  const cairn = await benchCairn(work);
  out.cairn = cairn.result;
  try {
    const ctx = await stageBuildah(work, cairn.dir, cairn.digest);
    out.buildah = benchBuildah(work, ctx);
    out.buildah.command = 'buildah bud --storage-driver vfs --isolation chroot --layers';
  } catch (error) {
    out.buildah = { error: String(error.message ?? error) };
  }
  if (out.buildah && !out.buildah.error) {
    out.ratios = {
      cold: ratio(out.buildah.cold.seconds, out.cairn.cold.seconds),
      warm: ratio(out.buildah.warm.seconds, out.cairn.warm.seconds),
      oneFile: ratio(out.buildah.oneFile.seconds, out.cairn.oneFile.seconds),
    };
    out.target = { oneFileAtLeast: TARGET_ONE_FILE_RATIO, met: out.ratios.oneFile >= TARGET_ONE_FILE_RATIO };
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(JSON.stringify(out, null, 2));
const c = out.cairn;
const b = out.buildah;
console.log(
  c && b && !b.error
    ? `build: cairn cold ${c.cold.seconds}s warm ${c.warm.seconds}s one-file ${c.oneFile.seconds}s | buildah cold ${b.cold.seconds}s warm ${b.warm.seconds}s one-file ${b.oneFile.seconds}s | one-file ${out.ratios.oneFile}x faster (target ${TARGET_ONE_FILE_RATIO}x: ${out.target.met ? 'met' : 'NOT met'})`
    : `build: cairn cold ${c?.cold.seconds}s warm ${c?.warm.seconds}s one-file ${c?.oneFile.seconds}s | buildah: ${b?.error ?? 'not run'}`,
);
