import { describe, expect, it } from 'vitest';
import type { FileEntry } from '../runtime/index.js';
import { compareFiles } from './compare-files.js';
import { foreignProcesses } from './foreign-processes.js';
import { judgeDrift } from './judge.js';
import type { ExpectedIdentity, Observation } from './types.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const MANIFEST: FileEntry[] = [
  { path: '/app', type: 'dir', mode: 0o555, size: 0 },
  { path: '/app/server.js', type: 'file', mode: 0o644, size: 10, digest: D1 },
  { path: '/bin/sh', type: 'symlink', mode: 0o777, size: 0, target: 'dash' },
];
const EXPECTED: ExpectedIdentity = {
  instance: 'ins-1',
  service: 'hello',
  env: 'dev',
  release: 'rel-1',
  imageDigest: D2,
  filesDigest: D1,
  entrypoint: ['node', 'server.js'],
};
const clone = <T>(v: T): T => structuredClone(v);

function observed(over: Partial<Observation> = {}): Observation {
  return {
    instance: 'ins-1',
    status: 'running',
    bundle: { imageDigest: D2, filesDigest: D1, entrypoint: ['node', 'server.js'] },
    manifestDigest: D1,
    manifest: clone(MANIFEST),
    files: clone(MANIFEST),
    processes: { initPid: 100, list: [{ pid: 100, ppid: 90, args: ['node', 'server.js'] }] },
    ...over,
  };
}

describe('judgeDrift', () => {
  it('an instance exactly like its artifact is in sync, with every check made', () => {
    expect(judgeDrift(EXPECTED, observed())).toEqual({ status: 'in-sync', notChecked: [] });
  });

  it('an instance cairn has no record of is unknown', () => {
    expect(judgeDrift(undefined, observed()).status).toBe('unknown');
  });

  it('an instance that should run and has exited or vanished is missing', () => {
    expect(judgeDrift(EXPECTED, observed({ status: 'exited' }))).toMatchObject({ status: 'missing' });
    expect(judgeDrift(EXPECTED, { instance: 'ins-1', status: 'missing' })).toMatchObject({
      status: 'missing',
      detail: 'ins-1 should run and is missing',
    });
  });

  it('an observation that failed gives unknown, never in-sync', () => {
    const v = judgeDrift(EXPECTED, observed({ error: 'runc ps failed' }));
    expect(v).toEqual({ status: 'unknown', detail: 'observing ins-1 failed: runc ps failed' });
  });

  it('a changed file is drift naming the path and both digests', () => {
    const files = clone(MANIFEST);
    files[1] = { ...files[1]!, size: 11, digest: D2 };
    const v = judgeDrift(EXPECTED, observed({ files }));
    expect(v).toEqual({
      status: 'drifted',
      notChecked: [],
      reasons: [
        {
          kind: 'file',
          path: '/app/server.js',
          change: 'content',
          expected: `${D1} (10 bytes)`,
          observed: `${D2} (11 bytes)`,
        },
      ],
    });
  });

  it('a files.json rewritten to match a tampered bundle is still drift: the record anchors it', () => {
    const v = judgeDrift(EXPECTED, observed({ manifestDigest: D2 }));
    expect(v).toMatchObject({
      status: 'drifted',
      reasons: [{ kind: 'identity', field: 'manifest', expected: D1, observed: D2 }],
    });
  });

  it('a bundle.json claiming another image or entrypoint is drift, per field', () => {
    const v = judgeDrift(
      EXPECTED,
      observed({ bundle: { imageDigest: D1, filesDigest: D1, entrypoint: ['sh'] } }),
    );
    expect(v.status).toBe('drifted');
    const fields = v.status === 'drifted' ? v.reasons.map((r) => (r.kind === 'identity' ? r.field : '')) : [];
    expect(fields).toEqual(['imageDigest', 'entrypoint']);
  });

  it('a process entered from outside (runc exec) is drift naming its pid and command', () => {
    const list = [
      { pid: 100, ppid: 90, args: ['node', 'server.js'] },
      { pid: 120, ppid: 100, args: ['node', 'worker.js'] },
      { pid: 200, ppid: 199, args: ['sh', '-c', 'sleep 300'] },
    ];
    const v = judgeDrift(EXPECTED, observed({ processes: { initPid: 100, list } }));
    expect(v).toMatchObject({
      status: 'drifted',
      reasons: [{ kind: 'process', pid: 200, args: ['sh', '-c', 'sleep 300'] }],
    });
    if (v.status === 'drifted')
      expect(v.reasons[0]).toHaveProperty('detail', expect.stringContaining('sleep 300'));
  });

  it('what could not be observed is reported as not checked, never as in sync silently', () => {
    const v = judgeDrift(EXPECTED, observed({ processes: undefined, files: undefined }));
    expect(v).toEqual({ status: 'in-sync', notChecked: ['files', 'processes'] });
  });
});

describe('compareFiles', () => {
  it('reports added, removed, mode, type and symlink target changes, sorted by path', () => {
    const files: FileEntry[] = [
      { path: '/app', type: 'dir', mode: 0o755, size: 0 },
      { path: '/app/server.js', type: 'dir', mode: 0o555, size: 0 },
      { path: '/bin/sh', type: 'symlink', mode: 0o777, size: 0, target: '/tmp/evil' },
      { path: '/app/.backdoor', type: 'file', mode: 0o755, size: 3, digest: D2 },
    ];
    expect(compareFiles(MANIFEST, files).map((r) => r.kind === 'file' && [r.path, r.change])).toEqual([
      ['/app', 'mode'],
      ['/app/.backdoor', 'added'],
      ['/app/server.js', 'type'],
      ['/bin/sh', 'target'],
    ]);
  });

  it('reports a removed file and a mode change with octal modes', () => {
    const files: FileEntry[] = [{ ...MANIFEST[0]! }, { ...MANIFEST[1]!, mode: 0o4755 }];
    expect(compareFiles(MANIFEST, files)).toEqual([
      { kind: 'file', path: '/app/server.js', change: 'mode', expected: '0644', observed: '04755' },
      { kind: 'file', path: '/bin/sh', change: 'removed', expected: 'symlink to dash' },
    ]);
  });

  it('ignores a symlink mode and the order of either list', () => {
    const files = clone(MANIFEST).reverse();
    files[0] = { ...files[0]!, mode: 0o755 };
    expect(compareFiles(MANIFEST, files)).toEqual([]);
  });
});

describe('foreignProcesses', () => {
  it('keeps init and its descendants, whatever the order, and names the rest', () => {
    const list = [
      { pid: 7, ppid: 5, args: ['c'] },
      { pid: 5, ppid: 1, args: ['b'] },
      { pid: 1, ppid: 0, args: ['init'] },
      { pid: 9, ppid: 8, args: ['x'] },
      { pid: 8, ppid: 3000, args: ['runc-exec-shell'] },
    ];
    expect(foreignProcesses(1, list).map((p) => p.pid)).toEqual([8, 9]);
  });

  it('terminates on a parent cycle and calls both members foreign', () => {
    const list = [
      { pid: 2, ppid: 3, args: [] },
      { pid: 3, ppid: 2, args: [] },
    ];
    expect(foreignProcesses(1, list).map((p) => p.pid)).toEqual([2, 3]);
  });
});
