/**
 * Keys and signing from the command line: keygen's files and modes, and the clear errors (or the
 * warning) a user gets for a missing, unreadable, wrong-type or too-open key.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, cairn, REPO_ROOT } from '../helpers/cli.js';

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function expectUserError(r: CliResult, message: RegExp): void {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(/\nhint: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.code).toBe(1);
}

describe('cairn keygen and cairn sign with bad keys', () => {
  let project: string;
  let image: string;
  const keys = () => join(project, '.cairn/keys');

  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'cairn-sign-'));
    temps.push(project);
    cpSync(join(REPO_ROOT, 'examples/hello'), project, { recursive: true });
    expect(cairn(['init'], { cwd: project }).code).toBe(0);
    const built = cairn(['build', '--output', 'json'], { cwd: project });
    expect(built.code).toBe(0);
    image = JSON.parse(built.stdout).images[0].digest;
  }, 300_000);

  it('Given keygen, then the private key is PKCS#8 at 0600, the public key SPKI, and neither is printed', () => {
    const r = cairn(['keygen', '--output', 'json'], { cwd: project });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.type).toBe('ecdsa-p256');
    expect(statSync(out.privateKeyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(out.privateKeyFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    const text = execFileSync('openssl', ['pkey', '-pubin', '-in', out.publicKeyFile, '-noout', '-text'], {
      encoding: 'utf8',
    });
    expect(text).toMatch(/ASN1 OID: prime256v1/);
  });

  it('Given a key of that name exists, then keygen refuses and leaves it untouched', () => {
    const before = readFileSync(join(keys(), 'cairn.key'));
    expectUserError(cairn(['keygen'], { cwd: project }), /error: writing key .*cairn\.key: the file exists/);
    expect(readFileSync(join(keys(), 'cairn.key')).equals(before)).toBe(true);
  });

  it('Given a key path that does not exist, then sign says so and how to make a key', () => {
    const r = cairn(['sign', image, '--key', 'nope.key'], { cwd: project });
    expectUserError(r, /error: reading private key .*nope\.key: no such file/);
  });

  it('Given an RSA key or a public key, then sign says what is wrong with it', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    writeFileSync(join(project, 'rsa.key'), rsa, { mode: 0o600 });
    expectUserError(
      cairn(['sign', image, '--key', 'rsa.key'], { cwd: project }),
      /rsa keys are not supported/,
    );
    const pub = cairn(['sign', image, '--key', join(keys(), 'cairn.pub')], { cwd: project });
    expectUserError(pub, /error: reading private key .*cairn\.pub: this is a public key/);
  });

  it('Given a key file others may read, then sign warns (naming chmod 600) and still signs', () => {
    const open = join(project, 'open.key');
    cpSync(join(keys(), 'cairn.key'), open);
    chmodSync(open, 0o644);
    const r = cairn(['sign', image, '--key', 'open.key'], { cwd: project });
    expect(r.stderr).toMatch(
      /^warning: private key .*open\.key is readable by others \(mode 0644\); run chmod 600 /,
    );
    expect(r.code).toBe(0);
  });

  it('Given a folder where the key should be, then sign says it is a folder', () => {
    const r = cairn(['sign', image, '--key', '.cairn/keys'], { cwd: project });
    expectUserError(r, /error: reading private key .*keys: it is a folder/);
  });

  // root reads any file, so there is nothing to observe as root
  it.skipIf(process.getuid?.() === 0)(
    'Given an unreadable key file, then sign says permission denied',
    () => {
      const locked = join(project, 'locked.key');
      cpSync(join(keys(), 'cairn.key'), locked);
      chmodSync(locked, 0o000);
      expectUserError(cairn(['sign', image, '--key', 'locked.key'], { cwd: project }), /permission denied/);
    },
  );

  it('Given the default key, then sign uses it and the signature verifies with plain openssl', () => {
    const r = cairn(['sign', image], { cwd: project });
    expect(r.code).toBe(0);
    const store = join(project, '.cairn/store');
    const index = JSON.parse(readFileSync(join(store, 'index.json'), 'utf8'));
    const sigRef = `${image.replace(':', '-')}.sig`;
    const sig = index.manifests.find(
      (m: { annotations: Record<string, string> }) =>
        m.annotations['org.opencontainers.image.ref.name'] === sigRef,
    );
    const manifest = JSON.parse(readFileSync(join(store, 'blobs/sha256', sig.digest.slice(7)), 'utf8'));
    const layer = manifest.layers.at(-1);
    writeFileSync(
      join(project, 'sig.der'),
      Buffer.from(layer.annotations['dev.cosignproject.cosign/signature'], 'base64'),
    );
    const payload = join(store, 'blobs/sha256', layer.digest.slice(7));
    const args = ['dgst', '-sha256', '-verify', join(keys(), 'cairn.pub'), '-signature', 'sig.der', payload];
    const openssl = spawnSync('openssl', args, { cwd: project, encoding: 'utf8' });
    expect(openssl.stdout.trim()).toBe('Verified OK');
    expect(JSON.parse(readFileSync(payload, 'utf8')).critical.image['docker-manifest-digest']).toBe(image);
  });
});
