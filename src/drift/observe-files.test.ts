import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundleFiles, prepareBundle } from '../runtime/index.js';
import { memoryImage } from '../runtime/testing/memory-image.js';
import { compareFiles } from './compare-files.js';
import { listRootfs, observePaths } from './observe-files.js';

const LAYER = [
  { name: 'app/', type: 'directory' as const, mode: 0o755 },
  { name: 'app/server.js', body: 'console.log(1)\n', mode: 0o644 },
  { name: 'app/run', body: '#!/bin/sh\n', mode: 0o4755 },
  { name: 'etc/', type: 'directory' as const },
  { name: 'etc/passwd', body: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'bin/', type: 'directory' as const },
  { name: 'bin/sh', type: 'symlink' as const, linkname: 'dash' },
];

describe('listRootfs against a freshly unpacked bundle', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-drift-'));
  });
  afterEach(() => {
    execFileSync('chmod', ['-R', 'u+w', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  const prepared = async () => {
    const image = await memoryImage([LAYER]);
    return prepareBundle(image, image.digest, dir);
  };

  it('sees exactly the manifest: no false positive on modes, mount points or symlinks', async () => {
    const bundle = await prepared();
    const files = await listRootfs(bundle.rootfs);
    expect(compareFiles(await bundleFiles(bundle), files)).toEqual([]);
    expect(files.map((f) => f.path)).toContain('/proc');
  });

  it('sees an appended byte, changed modes (a setuid bit), an added and a removed file, a retargeted symlink', async () => {
    const bundle = await prepared();
    const at = (p: string) => join(bundle.rootfs, p);
    chmodSync(at('app'), 0o755);
    chmodSync(at('app/server.js'), 0o644);
    appendFileSync(at('app/server.js'), 'x');
    chmodSync(at('app/run'), 0o4755);
    appendFileSync(at('app/.hidden'), 'payload');
    chmodSync(at('etc'), 0o755);
    unlinkSync(at('etc/passwd'));
    chmodSync(at('bin'), 0o755);
    unlinkSync(at('bin/sh'));
    symlinkSync('/tmp/evil', at('bin/sh'));
    execFileSync('mkfifo', [at('app/pipe')]);
    const reasons = compareFiles(await bundleFiles(bundle), await listRootfs(bundle.rootfs));
    expect(reasons.map((r) => r.kind === 'file' && `${r.path} ${r.change}`)).toEqual([
      '/app mode',
      '/app/.hidden added',
      '/app/pipe added',
      '/app/run mode',
      '/app/server.js content',
      '/app/server.js mode',
      '/bin mode',
      '/bin/sh target',
      '/etc mode',
      '/etc/passwd removed',
    ]);
  });

  it('observePaths (the fast path) sees the same differences for just the paths an event named', async () => {
    const bundle = await prepared();
    const at = (p: string) => join(bundle.rootfs, p);
    const named = ['/app', '/app/server.js', '/etc/passwd', '/bin/sh'];
    const manifest = (await bundleFiles(bundle)).filter((e) => named.includes(e.path));
    expect(compareFiles(manifest, await observePaths(bundle.rootfs, named))).toEqual([]);
    chmodSync(at('app'), 0o755);
    chmodSync(at('app/server.js'), 0o644);
    appendFileSync(at('app/server.js'), 'x');
    chmodSync(at('etc'), 0o755);
    unlinkSync(at('etc/passwd'));
    const reasons = compareFiles(manifest, await observePaths(bundle.rootfs, named));
    expect(reasons.map((r) => r.kind === 'file' && `${r.path} ${r.change}`)).toEqual([
      '/app mode',
      '/app/server.js content',
      '/app/server.js mode',
      '/etc/passwd removed',
    ]);
  });
});
