import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../lib/index.js';
import {
  CA_KEY_FILE,
  createWorkloadCa,
  identityConfig,
  issueSvid,
  loadWorkloadCa,
  parseSpiffeId,
  verifySvid,
  type WorkloadCa,
} from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-identity-'));
const keys = join(dir, 'keys');
const subject = {
  trustDomain: 'shop.cairn',
  env: 'prod',
  service: 'api',
  release: 'rel-0123456789ab',
  instance: 'ins-01abc',
};
let ca: WorkloadCa;

beforeAll(async () => {
  await createWorkloadCa(keys);
  ca = await loadWorkloadCa(keys);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('workload CA', () => {
  it('keeps its key at mode 0600 and refuses to make a second one', async () => {
    expect(statSync(join(keys, CA_KEY_FILE)).mode & 0o777).toBe(0o600);
    await expect(createWorkloadCa(keys)).rejects.toThrow(/already exists/);
  });

  it('refuses to make a CA where only its certificate is left (a lost key is restored, not replaced)', async () => {
    const half = join(dir, 'half');
    await createWorkloadCa(half);
    rmSync(join(half, CA_KEY_FILE));
    await expect(createWorkloadCa(half)).rejects.toThrow(/workload-ca\.pem already exists/);
  });

  it('refuses a missing key with a hint, never making a new CA', async () => {
    const empty = join(dir, 'empty');
    const error = await loadWorkloadCa(empty).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toMatch(/workload-ca\.key does not exist/);
    expect((error as NotFoundError).hint).toMatch(/restore/);
  });

  it('refuses a key that is not the certificate’s', async () => {
    const mixed = join(dir, 'mixed');
    await createWorkloadCa(mixed);
    writeFileSync(join(mixed, CA_KEY_FILE), readFileSync(join(keys, CA_KEY_FILE)));
    await expect(loadWorkloadCa(mixed)).rejects.toThrow(/does not belong to workload-ca\.pem/);
  });

  it('refuses an unreadable key', async () => {
    if (process.getuid?.() === 0) return; // root reads any file
    const locked = join(dir, 'locked');
    await createWorkloadCa(locked);
    chmodSync(join(locked, CA_KEY_FILE), 0);
    await expect(loadWorkloadCa(locked)).rejects.toThrow(/cannot be read/);
  });
});

describe('SVID issuance', () => {
  it('names the workload by its SPIFFE ID alone and the copy in the subject', async () => {
    const svid = await issueSvid(ca, subject, 3_600_000, new Date('2026-01-01T00:00:00Z'));
    expect(svid.spiffeId).toBe('spiffe://shop.cairn/prod/api');
    const cert = new X509Certificate(svid.certPem);
    expect(cert.subjectAltName).toBe('URI:spiffe://shop.cairn/prod/api');
    expect(cert.subject).toContain('CN=ins-01abc');
    expect(cert.subject).toContain('OU=rel-0123456789ab');
    expect(cert.ca).toBe(false);
    expect(cert.serialNumber.toLowerCase()).toBe(svid.serial);
    expect(svid.notAfter).toBe('2026-01-01T01:00:00.000Z');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('gives every instance its own key and serial', async () => {
    const [a, b] = await Promise.all([issueSvid(ca, subject, 60_000), issueSvid(ca, subject, 60_000)]);
    expect(a.keyPem).not.toBe(b.keyPem);
    expect(a.serial).not.toBe(b.serial);
  });

  it('verifies with openssl against the bundle', async () => {
    const svid = await issueSvid(ca, subject, 60_000);
    writeFileSync(join(dir, 'svid.pem'), svid.certPem);
    const out = execFileSync('openssl', [
      'verify',
      '-CAfile',
      join(keys, 'workload-ca.pem'),
      join(dir, 'svid.pem'),
    ]);
    expect(out.toString()).toMatch(/svid\.pem: OK/);
  });
});

describe('SVID verification', () => {
  const bundle = () => new X509Certificate(ca.bundlePem);

  it('accepts a current SVID and says who and which copy it is', async () => {
    const svid = await issueSvid(ca, subject, 60_000);
    const verdict = verifySvid(svid.certPem, bundle(), 'shop.cairn', new Date());
    expect(verdict).toMatchObject({
      ok: true,
      svid: {
        service: 'api',
        env: 'prod',
        serial: svid.serial,
        release: subject.release,
        instance: subject.instance,
      },
    });
  });

  it('refuses an expired SVID, another trust domain, and another CA’s certificate', async () => {
    const old = await issueSvid(ca, subject, 60_000, new Date(Date.now() - 3_600_000));
    expect(verifySvid(old.certPem, bundle(), 'shop.cairn', new Date())).toMatchObject({
      ok: false,
      reason: /expired/,
    });
    const foreign = await issueSvid(ca, { ...subject, trustDomain: 'evil.example' }, 60_000);
    expect(verifySvid(foreign.certPem, bundle(), 'shop.cairn', new Date())).toMatchObject({
      ok: false,
      reason: /trust domain/,
    });
    const otherDir = join(dir, 'forger');
    await createWorkloadCa(otherDir);
    const forged = await issueSvid(await loadWorkloadCa(otherDir), subject, 60_000);
    expect(verifySvid(forged.certPem, bundle(), 'shop.cairn', new Date())).toMatchObject({
      ok: false,
      reason: /not signed/,
    });
  });

  it('refuses a self-signed certificate and the CA itself', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'self.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const self = execFileSync('openssl', [
      'req',
      '-x509',
      '-key',
      join(dir, 'self.key'),
      '-subj',
      '/CN=ins-01abc',
      '-days',
      '1',
      '-addext',
      'subjectAltName=URI:spiffe://shop.cairn/prod/api',
    ]).toString();
    expect(verifySvid(self, bundle(), 'shop.cairn', new Date())).toMatchObject({
      ok: false,
      reason: /not signed/,
    });
    expect(verifySvid(ca.bundlePem, bundle(), 'shop.cairn', new Date())).toMatchObject({ ok: false });
  });
});

describe('SPIFFE IDs and settings', () => {
  it('defaults the trust domain to the project and the lifetime to one hour', () => {
    expect(identityConfig('shop')).toEqual({
      trustDomain: 'shop.cairn',
      svidTtlMs: 3_600_000,
      hopPort: 7443,
    });
    expect(identityConfig('shop', { trustDomain: 'corp.example', svidTtlMs: 5000 }).trustDomain).toBe(
      'corp.example',
    );
  });

  it('parses only cairn workload IDs', () => {
    expect(parseSpiffeId('spiffe://shop.cairn/prod/api')).toEqual({
      trustDomain: 'shop.cairn',
      env: 'prod',
      service: 'api',
    });
    for (const bad of [
      'https://shop.cairn/prod/api',
      'spiffe://shop.cairn/prod',
      'spiffe://shop.cairn/a/b/c',
      'spiffe://Shop/a/b',
    ]) {
      expect(parseSpiffeId(bad)).toBeUndefined();
    }
  });
});
