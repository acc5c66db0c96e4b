import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError, sha256Digest } from '../lib/index.js';
import { bundleFiles, prepareBundle } from './bundle.js';
import { memoryImage } from './testing/memory-image.js';
import type { FileEntry } from './types.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-bundle-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const base = [
  { name: 'app/', type: 'directory' as const },
  { name: 'app/server.js', body: 'console.log(1)' },
  { name: 'etc/motd', body: 'old' },
  { name: 'var/cache/a', body: 'a' },
  { name: 'var/cache/b', body: 'b' },
  { name: 'bin/app', body: '#!', mode: 0o4755 },
];

describe('prepareBundle', () => {
  it('applies layers in order with whiteouts and opaque folders', async () => {
    const image = await memoryImage([
      base,
      [
        { name: 'etc/.wh.motd' },
        { name: 'var/cache/.wh..wh..opq' },
        { name: 'var/cache/c', body: 'c' },
        { name: 'app/server.js', body: 'console.log(2)' },
        { name: 'bin/node', type: 'symlink', linkname: 'app' },
      ],
    ]);
    const bundle = await prepareBundle(image, image.digest, dir);
    expect(bundle.unpacked).toBe(true);
    expect(existsSync(join(bundle.rootfs, 'etc/motd'))).toBe(false);
    expect(readdirSync(join(bundle.rootfs, 'var/cache'))).toEqual(['c']);
    expect(readFileSync(join(bundle.rootfs, 'app/server.js'), 'utf8')).toBe('console.log(2)');
    expect(bundle.process).toMatchObject({ uid: 65532, gid: 65532, args: ['/bin/app'], cwd: '/app' });
  });

  it('writes a manifest of every file with digest, mode and size, and leaves nothing writable', async () => {
    const image = await memoryImage([base]);
    const bundle = await prepareBundle(image, image.digest, dir);
    const filesText = readFileSync(join(bundle.dir, 'files.json'), 'utf8');
    expect(sha256Digest(filesText)).toBe(bundle.filesDigest);
    const files: FileEntry[] = await bundleFiles(bundle);
    expect(files).toEqual(JSON.parse(filesText));
    expect(files.find((f) => f.path === '/app/server.js')).toEqual({
      path: '/app/server.js',
      type: 'file',
      mode: 0o444,
      size: 14,
      digest: sha256Digest('console.log(1)'),
    });
    expect(files.find((f) => f.path === '/bin/app')?.mode).toBe(0o555);
    expect(lstatSync(join(bundle.rootfs, 'app')).mode & 0o222).toBe(0);
  });

  it('reuses a prepared bundle for the same digest', async () => {
    const image = await memoryImage([base]);
    const first = await prepareBundle(image, image.digest, dir);
    image.blobs.clear();
    const second = await prepareBundle(image, image.digest, dir);
    expect(second).toMatchObject({ unpacked: false, rootfs: first.rootfs, filesDigest: first.filesDigest });
  });

  it('refuses a tampered layer before writing anything', async () => {
    const image = await memoryImage([base, [{ name: 'app/extra.js', body: 'x' }]]);
    const [digest, bytes] = [...image.blobs].find(([, b]) => b[0] === 0x1f)!;
    image.blobs.set(digest, Buffer.concat([bytes, Buffer.from('!')]));
    await expect(prepareBundle(image, image.digest, dir)).rejects.toThrow(IntegrityError);
    await expect(prepareBundle(image, image.digest, dir)).rejects.toThrow(/verifying layer sha256:.*hash to/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a layer whose content does not match its diff_id, and publishes nothing', async () => {
    const image = await memoryImage([base], ['/bin/app'], [sha256Digest('something else')]);
    await expect(prepareBundle(image, image.digest, dir)).rejects.toThrow(/does not match diff_id/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses entries that climb out of the root or go through a symlink', async () => {
    const climbing = await memoryImage([[{ name: '../outside', body: 'x' }]]);
    await expect(prepareBundle(climbing, climbing.digest, dir)).rejects.toThrow(/leaves the root filesystem/);
    const viaLink = await memoryImage([
      [
        { name: 'etc', type: 'symlink', linkname: '/tmp' },
        { name: 'etc/evil', body: 'x' },
      ],
    ]);
    await expect(prepareBundle(viaLink, viaLink.digest, dir)).rejects.toThrow(/goes through a symlink/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('makes each folder the image declares as a mount point (Volumes), mode 0700, listed in files.json', async () => {
    const image = await memoryImage([base], ['/bin/app'], undefined, ['/data', '/app/cache/deep', '/app']);
    const bundle = await prepareBundle(image, image.digest, dir);
    expect(bundle.mountPoints).toEqual(['/app', '/app/cache/deep', '/data']);
    for (const p of ['data', 'app/cache/deep'])
      expect(lstatSync(join(bundle.rootfs, p)).mode & 0o7777).toBe(0o700);
    const files = await bundleFiles(bundle);
    expect(files.find((f) => f.path === '/data')).toMatchObject({ type: 'dir', mode: 0o700 });
    // A parent made on the way is an ordinary sealed folder.
    expect(files.find((f) => f.path === '/app/cache')).toMatchObject({ type: 'dir', mode: 0o555 });
  });

  it('refuses an image with a file where a declared mount point must be, naming it', async () => {
    const image = await memoryImage([base], ['/bin/app'], undefined, ['/etc/motd/x']);
    await expect(prepareBundle(image, image.digest, dir)).rejects.toThrow(
      /cannot mount on \/etc\/motd\/x: the image has a file at \/etc\/motd/,
    );
    expect(readdirSync(dir).filter((n) => !n.startsWith('.'))).toEqual([]);
  });
});
