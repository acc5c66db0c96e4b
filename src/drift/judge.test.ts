import { describe, expect, it } from 'vitest';
import type { FileEntry } from '../runtime/index.js';
import { compareFiles } from './compare-files.js';
import { foreignProcesses } from './foreign-processes.js';
import { judgeDrift } from './judge.js';
import { bundleRootHash } from './merkle-root.js';
import { runtimeConfigIdentity } from './runtime-config-hash.js';
import { keyedDigest, secretDigests } from './secret-hash.js';
import type { DriftReason, ExpectedIdentity, Observation } from './types.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const MANIFEST: FileEntry[] = [
  { path: '/app', type: 'dir', mode: 0o555, size: 0 },
  { path: '/app/server.js', type: 'file', mode: 0o644, size: 10, digest: D1 },
  { path: '/bin/sh', type: 'symlink', mode: 0o777, size: 0, target: 'dash' },
];
const KEY = Buffer.alloc(32, 7);
const SECRET_VALUE = 'correct-horse-battery-staple';
const ENV_VALUE = 'postgres://app:pa55word@db/app';
const keyed = (v: string) => keyedDigest(KEY, v);
const CONFIG = {
  ociVersion: '1.0.2',
  process: {
    args: ['node', 'server.js'],
    env: ['PATH=/usr/bin', `DATABASE_URL=${ENV_VALUE}`, 'PORT=4000'],
    cwd: '/app',
    user: { uid: 65532, gid: 65532 },
    capabilities: { bounding: [], effective: [] },
    noNewPrivileges: true,
  },
  root: { path: '/bundles/x/rootfs', readonly: true },
  mounts: [{ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] }],
  linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }], resources: { pids: { limit: 1024 } } },
};
const EXPECTED: ExpectedIdentity = {
  instance: 'ins-1',
  service: 'hello',
  env: 'dev',
  release: 'rel-1',
  imageDigest: D2,
  filesDigest: D1,
  entrypoint: ['node', 'server.js'],
  bundleRoot: bundleRootHash(MANIFEST),
  runtimeConfig: runtimeConfigIdentity(CONFIG, keyed),
  secrets: secretDigests(KEY, { API_TOKEN: SECRET_VALUE }),
  executable: '/usr/bin/node',
};
const OLD_RECORD: ExpectedIdentity = {
  instance: 'ins-1',
  service: 'hello',
  env: 'dev',
  release: 'rel-1',
  imageDigest: D2,
  filesDigest: D1,
  entrypoint: ['node', 'server.js'],
};
const clone = <T>(v: T): T => structuredClone(v);
const reasonsOf = (v: ReturnType<typeof judgeDrift>): DriftReason[] =>
  v.status === 'drifted' ? v.reasons : [];

function observed(over: Partial<Observation> = {}): Observation {
  return {
    instance: 'ins-1',
    status: 'running',
    bundle: { imageDigest: D2, filesDigest: D1, entrypoint: ['node', 'server.js'] },
    manifestDigest: D1,
    manifest: clone(MANIFEST),
    files: clone(MANIFEST),
    processes: { initPid: 100, list: [{ pid: 100, ppid: 90, args: ['node', 'server.js'] }] },
    runtimeConfig: runtimeConfigIdentity(CONFIG, keyed),
    secrets: secretDigests(KEY, { API_TOKEN: SECRET_VALUE }),
    init: { pid: 100, executable: '/usr/bin/node', inBundle: true },
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

  it('a changed file is drift naming the path and both digests first, then the changed bundle root', () => {
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
        {
          kind: 'identity',
          field: 'bundleRoot',
          expected: EXPECTED.bundleRoot,
          observed: bundleRootHash(files),
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
    expect(v).toEqual({ status: 'in-sync', notChecked: ['files', 'bundle root', 'processes'] });
  });
});

describe('judgeDrift: runtime config, secrets, init process', () => {
  const withConfig = (change: (c: typeof CONFIG) => void) => {
    const config = clone(CONFIG);
    change(config);
    return judgeDrift(EXPECTED, observed({ runtimeConfig: runtimeConfigIdentity(config, keyed) }));
  };

  it('a record from before these fields is judged on what it has, the rest not checked', () => {
    expect(judgeDrift(OLD_RECORD, observed())).toEqual({
      status: 'in-sync',
      notChecked: ['bundle root', 'runtime config', 'secrets', 'init process'],
    });
  });

  it('a changed env value is drift naming the variable, never its value', () => {
    const v = withConfig((c) => {
      c.process.env[1] = 'DATABASE_URL=postgres://evil@elsewhere/app';
    });
    expect(reasonsOf(v)).toEqual([
      expect.objectContaining({ kind: 'config', field: 'process.env.DATABASE_URL', change: 'changed' }),
    ]);
    expect(JSON.stringify(v)).not.toContain('evil');
    expect(JSON.stringify(v)).not.toContain(ENV_VALUE);
  });

  it('an added or removed env variable is named with its change', () => {
    const v = withConfig((c) => {
      c.process.env = ['PATH=/usr/bin', 'PORT=4000', 'LD_PRELOAD=/tmp/x.so'];
    });
    expect(reasonsOf(v).map((r) => (r.kind === 'config' ? `${r.change} ${r.field}` : ''))).toEqual([
      'removed process.env.DATABASE_URL',
      'added process.env.LD_PRELOAD',
    ]);
    expect(JSON.stringify(v)).not.toContain('/tmp/x.so');
  });

  it.each([
    ['process.args', (c: typeof CONFIG) => c.process.args.push('--inspect')],
    ['process.user', (c: typeof CONFIG) => Object.assign(c.process.user, { uid: 0 })],
    [
      'process.capabilities',
      (c: typeof CONFIG) => c.process.capabilities.bounding.push('CAP_SYS_ADMIN' as never),
    ],
    ['mounts', (c: typeof CONFIG) => c.mounts.push({ ...c.mounts[0]!, destination: '/app' })],
    ['linux.namespaces', (c: typeof CONFIG) => c.linux.namespaces.pop()],
    ['linux.resources', (c: typeof CONFIG) => Object.assign(c.linux.resources.pids, { limit: 0 })],
    ['root', (c: typeof CONFIG) => Object.assign(c.root, { readonly: false })],
  ])('a change of %s is drift naming that field only', (field, change) => {
    const v = withConfig(change);
    expect(v.status).toBe('drifted');
    expect(reasonsOf(v).map((r) => (r.kind === 'config' ? r.field : r.kind))).toEqual([field]);
  });

  it('a section cairn never writes (hooks) is drift as an added field', () => {
    const v = withConfig((c) => Object.assign(c, { hooks: { prestart: [{ path: '/bin/sh' }] } }));
    expect(reasonsOf(v)).toEqual([
      expect.objectContaining({ kind: 'config', field: 'hooks', change: 'added' }),
    ]);
  });

  it('a changed, added or removed secret file is drift naming the secret, never a value', () => {
    const secrets = secretDigests(KEY, { API_TOKEN: 'stolen-and-replaced', EXTRA: 'planted' });
    const v = judgeDrift(EXPECTED, observed({ secrets }));
    expect(reasonsOf(v).map((r) => (r.kind === 'secret' ? `${r.change} ${r.path}` : ''))).toEqual([
      'changed secret API_TOKEN',
      'added secret EXTRA',
    ]);
    const gone = reasonsOf(judgeDrift(EXPECTED, observed({ secrets: {} })));
    expect(gone).toEqual([expect.objectContaining({ kind: 'secret', name: 'API_TOKEN', change: 'removed' })]);
    for (const text of [JSON.stringify(v), JSON.stringify(gone)]) {
      for (const value of [SECRET_VALUE, 'stolen-and-replaced', 'planted']) expect(text).not.toContain(value);
    }
  });

  it('a configuration file whose host copy changed is drift naming its path', () => {
    const expected = { ...EXPECTED, configFiles: { '/etc/app/config.json': D1 } };
    expect(judgeDrift(expected, observed({ configFiles: { '/etc/app/config.json': D1 } })).status).toBe(
      'in-sync',
    );
    const v = judgeDrift(expected, observed({ configFiles: { '/etc/app/config.json': D2 } }));
    expect(reasonsOf(v)).toEqual([
      {
        kind: 'config',
        field: 'files./etc/app/config.json',
        path: 'configuration file /etc/app/config.json',
        change: 'changed',
        expected: D1,
        observed: D2,
      },
    ]);
  });

  it('an init process running another file, or a copy outside the bundle, is drift naming both files', () => {
    const other = judgeDrift(
      EXPECTED,
      observed({ init: { pid: 100, executable: '/bin/sh', inBundle: true } }),
    );
    expect(reasonsOf(other)).toEqual([
      expect.objectContaining({
        kind: 'process',
        pid: 100,
        detail: "init pid 100 runs /bin/sh; the image's entrypoint runs /usr/bin/node",
      }),
    ]);
    const detailOf = (init: Record<string, unknown>) =>
      (
        reasonsOf(
          judgeDrift(
            EXPECTED,
            observed({ init: { pid: 100, executable: '/usr/bin/node', inBundle: false, ...init } }),
          ),
        )[0] as { detail: string }
      ).detail;
    // What differs is named: a deleted or replaced file, its inode; never two equal paths side by side.
    expect(detailOf({ inode: 11, deleted: true, bundleInode: 22 })).toBe(
      "init pid 100 runs a deleted file that was /usr/bin/node (inode 11); the bundle's /usr/bin/node is another file (inode 22): the executable it started from was replaced",
    );
    expect(detailOf({ inode: 11, deleted: false, bundleInode: 22 })).toBe(
      "init pid 100 runs /usr/bin/node (inode 11), not the bundle's file at that path (inode 22): replaced, or run from outside the bundle",
    );
    expect(detailOf({ inode: 11, deleted: false })).toBe(
      'init pid 100 runs /usr/bin/node (inode 11), which the bundle no longer has',
    );
  });

  it('a driver that cannot show its config or init process leaves them not checked', () => {
    const v = judgeDrift(
      EXPECTED,
      observed({ runtimeConfig: undefined, init: undefined, processes: undefined }),
    );
    expect(v).toEqual({ status: 'in-sync', notChecked: ['runtime config', 'init process', 'processes'] });
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
