/**
 * Test fixtures: OCI images built with `umoci` from a folder holding this machine's `node` binary,
 * the shared libraries `ldd` lists for it, a passwd entry for uid 65532 and the given app files —
 * enough to run a node service in any driver without the artifact builder. Tests only.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { digestHex } from '../../lib/index.js';
import type { BlobSource } from '../types.js';

export const FIXTURE_UID = 65532;
const TAG = 'fixture';

/** A BlobSource over an OCI image layout folder (no verification: the runtime verifies). */
export function layoutSource(layoutDir: string): BlobSource {
  return { readBlob: (digest) => readFile(join(layoutDir, 'blobs', 'sha256', digestHex(digest))) };
}

export interface FixtureImage {
  layoutDir: string;
  digest: string;
  source: BlobSource;
}

export interface FixtureOptions {
  /** Files by absolute path in the image, e.g. `{ '/app/server.js': '…' }`. */
  files: Record<string, string>;
  entrypoint: string[];
  workdir?: string;
  env?: string[];
}

function nodeAndLibs(): string[] {
  const node = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
  const ldd = execFileSync('ldd', [node], { encoding: 'utf8' });
  const libs = [...ldd.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
  return [node, ...libs];
}

function writeRootfs(root: string, files: Record<string, string>): void {
  for (const host of nodeAndLibs()) {
    const inImage = host.startsWith('/usr/local/bin/') ? `/usr/bin/${host.split('/').pop()}` : host;
    mkdirSync(join(root, dirname(inImage)), { recursive: true });
    copyFileSync(host, join(root, inImage));
  }
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(
    join(root, 'etc/passwd'),
    `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${FIXTURE_UID}:${FIXTURE_UID}:nonroot:/home/nonroot:/sbin/nologin\n`,
  );
  writeFileSync(join(root, 'etc/group'), `root:x:0:\nnonroot:x:${FIXTURE_UID}:\n`);
  for (const dir of ['tmp', 'proc', 'dev', 'sys', 'run']) mkdirSync(join(root, dir), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    writeFileSync(join(root, path), text, { mode: 0o644 });
  }
}

/** Builds an image with umoci in `workDir` and returns its manifest digest and a source for it. */
export function buildFixtureImage(workDir: string, options: FixtureOptions): FixtureImage {
  const layoutDir = join(workDir, 'layout');
  const rootfs = join(workDir, 'rootfs');
  writeRootfs(rootfs, options.files);
  const image = `${layoutDir}:${TAG}`;
  execFileSync('umoci', ['init', '--layout', layoutDir]);
  execFileSync('umoci', ['new', '--image', image]);
  execFileSync('umoci', ['insert', '--image', image, rootfs, '/']);
  const [entry, ...cmd] = options.entrypoint;
  const config = ['config', '--image', image, '--config.user', `${FIXTURE_UID}:${FIXTURE_UID}`];
  config.push('--config.entrypoint', entry!, '--config.workingdir', options.workdir ?? '/app');
  for (const arg of cmd) config.push('--config.cmd', arg);
  for (const env of options.env ?? ['PATH=/usr/local/bin:/usr/bin:/bin']) config.push('--config.env', env);
  execFileSync('umoci', config);
  const index = JSON.parse(readFileSync(join(layoutDir, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string }>;
  };
  const digest = index.manifests.at(-1)!.digest;
  return { layoutDir, digest, source: layoutSource(layoutDir) };
}
