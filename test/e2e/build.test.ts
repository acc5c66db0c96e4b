import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAIRN_BIN, type CliResult, cairn, cairnAsync, REPO_ROOT } from '../helpers/cli.js';

interface BuildJson {
  images: Array<{
    service: string;
    digest: string;
    ref: string;
    layers: Array<{ digest: string; size: number; cached: boolean }>;
    seconds: number;
  }>;
}

const temps: string[] = [];
/** A fresh copy of examples/hello with a workspace; `seedFrom` copies another project's store and cache. */
function project(seedFrom?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-build-'));
  temps.push(dir);
  cpSync(join(REPO_ROOT, 'examples/hello'), dir, { recursive: true });
  expect(cairn(['init'], { cwd: dir }).code).toBe(0);
  if (seedFrom) {
    for (const sub of ['store', 'cache'])
      cpSync(join(seedFrom, '.cairn', sub), join(dir, '.cairn', sub), { recursive: true });
  }
  return dir;
}

const run = cairnAsync;

async function build(dir: string, env: NodeJS.ProcessEnv = {}): Promise<BuildJson> {
  const r = await run(['build', '--output', 'json'], { cwd: dir, env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as BuildJson;
}

function manifestBytes(dir: string, digest: string): Buffer {
  return readFileSync(join(dir, '.cairn/store/blobs/sha256', digest.slice(7)));
}

/** Everything in the store, to prove a failed build changed nothing. */
function storeSnapshot(dir: string): string {
  const store = join(dir, '.cairn/store');
  if (!existsSync(join(store, 'index.json'))) return 'empty';
  return `${readFileSync(join(store, 'index.json'), 'utf8')}|${readdirSync(join(store, 'blobs/sha256')).sort().join(',')}`;
}

function expectUserError(r: CliResult, message: RegExp): void {
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(/\nhint: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

let first: string;
let firstBuild: BuildJson;
beforeAll(async () => {
  first = project();
  firstBuild = await build(first);
});

describe('cairn build: reproducible images of examples/hello', () => {
  it('Given two copies in different folders with different file times, built at different times, then the manifests are byte-identical', async () => {
    const second = project();
    const past = new Date('2001-02-03T04:05:06Z');
    for (const f of ['app/server.js', 'app/package.json', 'config/v1.json'])
      utimesSync(join(second, f), past, past);
    await new Promise((r) => setTimeout(r, 1100));
    const secondBuild = await build(second);
    const [a, b] = [firstBuild.images[0]!, secondBuild.images[0]!];
    expect(b.digest).toBe(a.digest);
    expect(manifestBytes(second, b.digest).equals(manifestBytes(first, a.digest))).toBe(true);
    expect(a.service).toBe('hello');
    expect(a.ref).toBe('hello:latest');
    expect(a.layers).toHaveLength(3);
  });

  it('Given SOURCE_DATE_EPOCH, then file times and the created date follow it and the digest changes', async () => {
    const dir = project();
    const r = await build(dir, { SOURCE_DATE_EPOCH: '1700000000' });
    expect(r.images[0]!.digest).not.toBe(firstBuild.images[0]!.digest);
    const manifest = JSON.parse(manifestBytes(dir, r.images[0]!.digest).toString('utf8'));
    expect(manifest.annotations['org.opencontainers.image.created']).toBe('2023-11-14T22:13:20Z');
  });

  it('Given the store, skopeo reads it as an OCI layout and sees the config cairn wrote', () => {
    const out = execFileSync('skopeo', ['inspect', `oci:${join(first, '.cairn/store')}:hello:latest`], {
      encoding: 'utf8',
    });
    const info = JSON.parse(out);
    expect(info.Digest).toBe(firstBuild.images[0]!.digest);
    expect(info.Layers).toEqual(firstBuild.images[0]!.layers.map((l) => l.digest));
    expect(info.Env).toContain('GREETING=hi');
    expect(info.Labels['org.opencontainers.image.version']).toBe('1.0.0');
    expect(info.Labels['org.opencontainers.image.base.digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
    const config = JSON.parse(
      execFileSync('skopeo', ['inspect', '--config', `oci:${join(first, '.cairn/store')}:hello:latest`], {
        encoding: 'utf8',
      }),
    );
    expect(config.config).toMatchObject({
      User: '65532:65532',
      Entrypoint: ['node', 'server.js'],
      WorkingDir: '/app',
      ExposedPorts: { '8080/tcp': {} },
    });
  });

  it('Given the image, umoci unpacks a root file system with node, the app and the config — and no shell', () => {
    const bundle = join(first, 'bundle');
    execFileSync(
      'umoci',
      ['unpack', '--rootless', '--image', `${join(first, '.cairn/store')}:hello:latest`, bundle],
      { stdio: 'ignore' },
    );
    const rootfs = join(bundle, 'rootfs');
    expect(readFileSync(join(rootfs, 'app/server.js'), 'utf8')).toBe(
      readFileSync(join(first, 'app/server.js'), 'utf8'),
    );
    expect(JSON.parse(readFileSync(join(rootfs, 'etc/hello/config.json'), 'utf8')).version).toBe('v1');
    expect(existsSync(join(rootfs, 'usr/bin/node'))).toBe(true);
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).toContain(':65532:65532:');
    expect(existsSync(join(rootfs, 'etc/ssl/certs/ca-certificates.crt'))).toBe(true);
    for (const shell of ['bin/sh', 'usr/bin/sh', 'bin/bash', 'usr/bin/bash'])
      expect(existsSync(join(rootfs, shell))).toBe(false);
  });

  it('Given one application file changed, then only the application layer is rebuilt', async () => {
    const dir = project(first);
    const before = (await build(dir)).images[0]!;
    writeFileSync(
      join(dir, 'app/server.js'),
      `${readFileSync(join(dir, 'app/server.js'), 'utf8')}\n// changed\n`,
    );
    const after = (await build(dir)).images[0]!;
    expect(after.digest).not.toBe(before.digest);
    expect(after.layers.map((l) => l.cached)).toEqual([true, false, true]);
    expect(after.layers[0]!.digest).toBe(before.layers[0]!.digest);
    expect(after.layers[1]!.digest).not.toBe(before.layers[1]!.digest);
    expect(after.layers[2]!.digest).toBe(before.layers[2]!.digest);
  });

  it('Given an OCI layout as base (oci:PATH:REF), then the image starts with the base layers', async () => {
    const dir = project(first);
    // A base layout lies inside the project folder, like every path a spec names.
    cpSync(join(first, '.cairn/store'), join(dir, 'base'), { recursive: true });
    const spec = readFileSync(join(dir, 'cairn.yaml'), 'utf8').replace(
      'base: host:node',
      'base: "oci:./base:hello:latest"',
    );
    writeFileSync(join(dir, 'cairn.yaml'), spec);
    const r = (await build(dir)).images[0]!;
    expect(r.layers.slice(0, 3).map((l) => l.digest)).toEqual(
      firstBuild.images[0]!.layers.map((l) => l.digest),
    );
    expect(r.layers).toHaveLength(5);
  });
});

describe('cairn build: bad input leaves the store as it was', () => {
  it('Given no workspace, then build says to run cairn init', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-build-'));
    temps.push(dir);
    cpSync(join(REPO_ROOT, 'examples/hello'), dir, { recursive: true });
    expectUserError(cairn(['build'], { cwd: dir }), /no workspace at/);
    expect(existsSync(join(dir, '.cairn'))).toBe(false);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'Given a file the builder cannot read, then build names it and the store is unchanged',
    () => {
      const dir = project(first);
      execFileSync('chmod', ['-R', 'a+rwX', dir]);
      writeFileSync(join(dir, 'app/secret.js'), 'unreadable', { mode: 0o000 });
      const before = storeSnapshot(dir);
      const asNobody = spawnSync(process.execPath, [CAIRN_BIN, 'build'], {
        cwd: dir,
        uid: 65534,
        gid: 65534,
        encoding: 'utf8',
      });
      expectUserError(
        { code: asNobody.status ?? -1, stdout: asNobody.stdout, stderr: asNobody.stderr },
        /error: reading secret\.js: permission denied/,
      );
      expect(storeSnapshot(dir)).toBe(before);
    },
  );

  it('Given a layer blob altered on disk, then push refuses with exit code 3 before sending anything', async () => {
    const dir = project(first);
    const digest = firstBuild.images[0]!.layers[1]!.digest;
    const blob = join(dir, '.cairn/store/blobs/sha256', digest.slice(7));
    execFileSync('chmod', ['u+w', blob]);
    writeFileSync(blob, 'tampered');
    const r = await run(['push', 'hello', '--to', '127.0.0.1:9/hello:v1', '--insecure'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`error: reading blob ${digest}: its content has digest`);
    expect(r.stderr).not.toContain('cannot reach');
  });

  const cases: Array<[string, (dir: string) => void, RegExp]> = [
    [
      'a missing context',
      (d) => rmSync(join(d, 'app'), { recursive: true }),
      /build context "\.\/app" is not a folder/,
    ],
    [
      'an include matching nothing',
      (d) => rmSync(join(d, 'app/package.json')),
      /no file matches include "package.json"/,
    ],
    [
      'a symlink escaping the context',
      (d) => symlinkSync('/etc/hostname', join(d, 'app/escape.js')),
      /escape\.js: the symlink points outside/,
    ],
    [
      'a missing baked file',
      (d) => rmSync(join(d, 'config/v1.json')),
      /file "\.\/config\/v1\.json" for \/etc\/hello\/config\.json does not exist/,
    ],
    [
      'a base that does not resolve',
      (d) => edit(d, 'base: host:node', 'base: "oci:./nowhere:base"'),
      /resolving base oci:\.\/nowhere:base/,
    ],
    [
      'an unpinned registry base',
      (d) => edit(d, 'base: host:node', 'base: "127.0.0.1:5999/node:20"'),
      /must be pinned by digest/,
    ],
    ['an unknown service', () => {}, /no such service/],
  ];
  for (const [what, breakIt, message] of cases) {
    it(`Given ${what}, then build fails with an action-first error and the store is unchanged`, () => {
      const dir = project(first);
      const before = storeSnapshot(dir);
      breakIt(dir);
      const args = what === 'an unknown service' ? ['build', 'helo'] : ['build'];
      expectUserError(cairn(args, { cwd: dir }), message);
      expect(storeSnapshot(dir)).toBe(before);
    });
  }
});

function edit(dir: string, from: string, to: string): void {
  const file = join(dir, 'cairn.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(from, to));
}
