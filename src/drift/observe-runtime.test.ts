import { mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { observeInit, observeSecrets } from './observe-runtime.js';
import { keyedDigest } from './secret-hash.js';

const KEY = Buffer.alloc(32, 3);

describe('observing secrets and the init process (real files, real /proc)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-observe-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('hashes each mounted secret file with the key; a symlink planted there never matches; no folder is no secrets', async () => {
    writeFileSync(join(dir, 'API_TOKEN'), 'tok-1');
    writeFileSync(join(dir, 'elsewhere'), 'tok-1');
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'LINKED'));
    const seen = await observeSecrets(dir, KEY);
    expect(seen.API_TOKEN).toBe(keyedDigest(KEY, 'tok-1'));
    expect(seen.LINKED).not.toBe(keyedDigest(KEY, 'tok-1'));
    expect(JSON.stringify(seen)).not.toContain('tok-1');
    expect(await observeSecrets(join(dir, 'none'), KEY)).toEqual({});
  });

  it('leaves out the SVID folder, which is renewed in place by design (a renewal is not drift)', async () => {
    writeFileSync(join(dir, 'API_TOKEN'), 'tok-1');
    mkdirSync(join(dir, '.spiffe'));
    writeFileSync(join(dir, '.spiffe', 'svid.pem'), 'renewed');
    expect(Object.keys(await observeSecrets(dir, KEY))).toEqual(['API_TOKEN']);
  });

  it('names the file a process runs and says whether it is the very file of the given root', async () => {
    const node = realpathSync(process.execPath);
    expect(await observeInit(process.pid, '/')).toEqual({
      pid: process.pid,
      executable: node,
      inBundle: true,
    });
    // Another file at the same path of another root is not the file the process runs (compared by
    // device and inode, so a byte-identical copy would not pass either).
    const other = join(dir, node);
    mkdirSync(dirname(other), { recursive: true });
    writeFileSync(other, 'not node');
    expect(await observeInit(process.pid, dir)).toEqual({
      pid: process.pid,
      executable: node,
      inBundle: false,
      inode: statSync(node).ino,
      deleted: false,
      bundleInode: statSync(other).ino,
    });
  });
});
