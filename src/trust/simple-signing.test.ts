import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../lib/index.js';
import { generateKeyPair, parsePrivateKey } from './key-pair.js';
import { signBytes } from './signature.js';
import { signatureTag, signedDigest, simpleSigningPayload } from './simple-signing.js';

const DIGEST = sha256Digest('a manifest');
const dir = mkdtempSync(join(tmpdir(), 'cairn-simple-signing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function opensslVerify(publicKeyPem: string, payload: Buffer, signature: Buffer): string {
  writeFileSync(join(dir, 'pub.pem'), publicKeyPem);
  writeFileSync(join(dir, 'payload'), payload);
  writeFileSync(join(dir, 'sig.der'), signature);
  const args = ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.der', 'payload'];
  try {
    return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' }).trim();
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? '').trim();
  }
}

describe('cosign simple signing', () => {
  it('has the payload cosign writes and reads back the digest', () => {
    const payload = simpleSigningPayload('localhost:5000/hello', DIGEST);
    expect(JSON.parse(payload.toString())).toEqual({
      critical: {
        identity: { 'docker-reference': 'localhost:5000/hello' },
        image: { 'docker-manifest-digest': DIGEST },
        type: 'cosign container image signature',
      },
      optional: null,
    });
    expect(signedDigest(payload)).toBe(DIGEST);
    expect(signatureTag(DIGEST)).toBe(`sha256-${DIGEST.slice(7)}.sig`);
  });

  it('refuses a payload that is not a cosign signature', () => {
    expect(() => signedDigest(Buffer.from('{"critical":{}}'))).toThrow(/not a cosign image signature/);
    expect(() => signedDigest(Buffer.from('nope'))).toThrow(/not JSON/);
  });

  it('makes an ECDSA signature that plain openssl verifies, and openssl rejects a tampered payload', () => {
    const pair = generateKeyPair('ecdsa-p256');
    const payload = simpleSigningPayload('hello', DIGEST);
    const signature = signBytes(parsePrivateKey(pair.privateKeyPem, 'k'), payload);
    expect(opensslVerify(pair.publicKeyPem, payload, signature)).toBe('Verified OK');
    const tampered = simpleSigningPayload('hello', sha256Digest('another manifest'));
    expect(opensslVerify(pair.publicKeyPem, tampered, signature)).toBe('Verification failure');
  });
});
