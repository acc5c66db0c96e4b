import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Bundle, prepareBundle } from '../runtime/index.js';
import { memoryImage } from '../runtime/testing/memory-image.js';
import { instanceRecord } from '../server/testing/instance-record.js';
import type { InstanceRecord } from '../state/index.js';
import { confirmFastPath } from './fast-path.js';

const LAYER = [
  { name: 'app/', type: 'directory' as const, mode: 0o755 },
  { name: 'app/server.js', body: 'console.log(1)\n', mode: 0o644 },
  { name: 'etc/', type: 'directory' as const },
  { name: 'etc/passwd', body: 'root:x:0:0::/root:/bin/sh\n' },
];

function record(id: string, bundle: Bundle, filesDigest = bundle.filesDigest): InstanceRecord {
  return instanceRecord(id, {
    identity: { imageDigest: bundle.imageDigest, filesDigest, entrypoint: ['node'] },
  });
}

describe('confirmFastPath: the paths an event named, hashed now, against the manifest', () => {
  let dir: string;
  let bundle: Bundle;
  const at = (p: string) => join(bundle.rootfs, p);
  const confirm = (paths: string[], instances = [record('ins-1', bundle), record('ins-2', bundle)]) =>
    confirmFastPath({ bundlesDir: dir, imageDigest: bundle.imageDigest, paths, instances });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-drift-fast-'));
    const image = await memoryImage([LAYER]);
    bundle = await prepareBundle(image, image.digest, dir);
  });
  afterEach(() => {
    execFileSync('chmod', ['-R', 'u+w', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports every instance on the bundle drifted when a named file got a byte appended', async () => {
    chmodSync(at('app/server.js'), 0o644);
    appendFileSync(at('app/server.js'), 'x');
    const reports = await confirm(['/app/server.js']);
    expect(reports.map((r) => [r.instance, r.verdict.status])).toEqual([
      ['ins-1', 'drifted'],
      ['ins-2', 'drifted'],
    ]);
    const reasons = reports[0]!.verdict.status === 'drifted' ? reports[0]!.verdict.reasons : [];
    expect(reasons.map((r) => r.kind === 'file' && `${r.path} ${r.change}`)).toEqual([
      '/app/server.js content',
      '/app/server.js mode',
    ]);
  });

  it('reports nothing when the events changed nothing the manifest records (a touch)', async () => {
    utimesSync(at('app/server.js'), new Date(), new Date());
    expect(await confirm(['/app/server.js', '/app'])).toEqual([]);
  });

  it('sees an added and a removed path, and ignores instances of other images', async () => {
    chmodSync(at('app'), 0o755);
    writeFileSync(at('app/.hidden'), 'payload');
    chmodSync(at('etc'), 0o755);
    rmSync(at('etc/passwd'));
    const other = { ...record('ins-9', bundle), identity: { imageDigest: `sha256:${'b'.repeat(64)}` } };
    const reports = await confirm(['/app/.hidden', '/etc/passwd'], [record('ins-1', bundle), other]);
    expect(reports.map((r) => r.instance)).toEqual(['ins-1']);
    const reasons = reports[0]!.verdict.status === 'drifted' ? reports[0]!.verdict.reasons : [];
    expect(reasons.map((r) => r.kind === 'file' && `${r.path} ${r.change}`)).toEqual([
      '/app/.hidden added',
      '/etc/passwd removed',
    ]);
  });

  it('treats a files.json that is not the one recorded at start as drift of the manifest itself', async () => {
    chmodSync(bundle.dir, 0o755);
    chmodSync(join(bundle.dir, 'files.json'), 0o644);
    writeFileSync(join(bundle.dir, 'files.json'), '[]');
    const reports = await confirm(['/app/server.js']);
    expect(reports).toHaveLength(2);
    const reasons = reports[0]!.verdict.status === 'drifted' ? reports[0]!.verdict.reasons : [];
    expect(reasons).toEqual([
      expect.objectContaining({ kind: 'identity', field: 'manifest', expected: bundle.filesDigest }),
    ]);
  });
});
