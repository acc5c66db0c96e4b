import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError, NotFoundError, sha256Digest } from '../lib/index.js';
import type { Bundle, FileEntry } from '../runtime/index.js';
import { expectedIdentity } from './identity.js';
import { IDENTITY_KEY_FILE, loadOrCreateIdentityKey, readIdentityKey } from './identity-key.js';
import { bundleRootHash } from './merkle-root.js';
import { addRuntimeConfig, recordIdentity } from './record-identity.js';

const SECRET = 'sk-live-0123456789';
const ENV_SECRETISH = 'DATABASE_URL=postgres://app:pa55@db/app';

describe('recordIdentity (a bundle and config on disk)', () => {
  let ws: string;
  let bundle: Bundle;
  let manifest: FileEntry[];

  beforeEach(() => {
    ws = mkdtempSync(join(tmpdir(), 'cairn-identity-'));
    const dir = join(ws, 'bundles', 'ab'.repeat(32));
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'usr', 'bin'), { recursive: true });
    mkdirSync(join(rootfs, 'app'));
    writeFileSync(join(rootfs, 'usr', 'bin', 'node'), '\x7fELF');
    writeFileSync(join(rootfs, 'app', 'start.sh'), '#!/bin/node\n');
    symlinkSync('usr/bin', join(rootfs, 'bin'));
    chmodSync(join(rootfs, 'app', 'start.sh'), 0o755);
    manifest = [
      { path: '/app', type: 'dir', mode: 0o555, size: 0 },
      { path: '/app/start.sh', type: 'file', mode: 0o755, size: 12, digest: 'sha256:a' },
      { path: '/bin', type: 'symlink', mode: 0o777, size: 0, target: 'usr/bin' },
      { path: '/usr', type: 'dir', mode: 0o555, size: 0 },
      { path: '/usr/bin', type: 'dir', mode: 0o555, size: 0 },
      { path: '/usr/bin/node', type: 'file', mode: 0o755, size: 4, digest: 'sha256:b' },
    ];
    const bytes = JSON.stringify(manifest);
    writeFileSync(join(dir, 'files.json'), bytes);
    bundle = {
      imageDigest: `sha256:${'ab'.repeat(32)}`,
      dir,
      rootfs,
      process: { uid: 1, gid: 1, env: ['PATH=/bin'], args: ['./start.sh'], cwd: '/app' },
      filesDigest: sha256Digest(bytes),
      unpacked: false,
    };
  });
  afterEach(() => rmSync(ws, { recursive: true, force: true }));

  const configFile = () => {
    const file = join(ws, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({ process: { args: ['./start.sh'], env: [ENV_SECRETISH] }, mounts: [] }),
    );
    return file;
  };

  it('records root hash, executable, config fields and keyed secrets, and creates the key at 0600', async () => {
    const before = await recordIdentity({
      imageDigest: bundle.imageDigest,
      bundle,
      secrets: { API_TOKEN: SECRET },
    });
    expect(before).not.toHaveProperty('runtimeConfig');
    const identity = await addRuntimeConfig(before, bundle, configFile());
    const keyFile = join(ws, 'keys', IDENTITY_KEY_FILE);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(identity).toMatchObject({
      imageDigest: bundle.imageDigest,
      filesDigest: bundle.filesDigest,
      bundleRoot: bundleRootHash(manifest),
      entrypoint: ['./start.sh'],
      // A script runs as its interpreter: /bin/node is /usr/bin/node through the /bin symlink.
      executable: '/usr/bin/node',
      secrets: { API_TOKEN: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/) },
    });
    const text = JSON.stringify(identity);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('pa55');
    expect(text).not.toContain(readFileSync(keyFile, 'utf8').trim());
    const expected = expectedIdentity({ id: 'ins-1', identity } as never);
    expect(typeof expected === 'object' && Object.keys(expected.runtimeConfig!.fields)).toEqual([
      'process.args',
      'process.env.DATABASE_URL',
      'mounts',
    ]);
  });

  it('without a config file (bwrap, process) records no runtime config', async () => {
    const before = await recordIdentity({ imageDigest: bundle.imageDigest, bundle, secrets: {} });
    const identity = await addRuntimeConfig(before, bundle, undefined);
    expect(identity).toEqual(before);
    expect(identity).not.toHaveProperty('runtimeConfig');
    expect(identity.secrets).toEqual({});
  });

  it('refuses, before anything starts, a bundle whose files.json no longer has its sealed digest', async () => {
    writeFileSync(join(bundle.dir, 'files.json'), JSON.stringify(manifest.slice(1)));
    await expect(recordIdentity({ imageDigest: bundle.imageDigest, bundle, secrets: {} })).rejects.toThrow(
      IntegrityError,
    );
  });
});

describe('the identity key', () => {
  it('is created once, even by concurrent starts, and a missing one is never silently replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-key-'));
    try {
      const file = join(dir, 'keys', IDENTITY_KEY_FILE);
      await expect(readIdentityKey(file)).rejects.toThrow(NotFoundError);
      const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateIdentityKey(file)));
      for (const k of keys) expect(k.equals(keys[0]!)).toBe(true);
      expect(keys[0]!.length).toBe(32);
      expect((await readIdentityKey(file)).equals(keys[0]!)).toBe(true);
      writeFileSync(file, 'not hex');
      await expect(readIdentityKey(file)).rejects.toThrow(IntegrityError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
