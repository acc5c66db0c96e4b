import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, KeyError, parsePrivateKey, parsePublicKey, publicKeyOf } from './key-pair.js';
import { signBytes, verifyBytes } from './signature.js';

describe('key pairs', () => {
  it.each(['ecdsa-p256', 'ed25519'] as const)('a %s key signs and its public half verifies', (type) => {
    const pair = generateKeyPair(type);
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const signing = parsePrivateKey(pair.privateKeyPem, 'k.key');
    const pub = parsePublicKey(pair.publicKeyPem, 'k.pub');
    expect(signing.type).toBe(type);
    expect(pub.keyId).toBe(pair.keyId);
    const sig = signBytes(signing, Buffer.from('payload'));
    expect(verifyBytes(pub, Buffer.from('payload'), sig)).toBe(true);
    expect(verifyBytes(pub, Buffer.from('payloaD'), sig)).toBe(false);
  });

  it('gives different keys different ids and one key one id', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    expect(a.keyId).not.toBe(b.keyId);
    expect(publicKeyOf(parsePrivateKey(a.privateKeyPem, 'a')).keyId).toBe(a.keyId);
  });

  it('refuses an RSA key, a P-384 key and garbage with a hint', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    expect(() => parsePrivateKey(rsa.toString(), 'rsa.key')).toThrow(/rsa keys are not supported/);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    expect(() => parsePublicKey(p384.toString(), 'p384.pub')).toThrow(/ec secp384r1 keys are not supported/);
    expect(() => parsePublicKey('hello', 'x.pub')).toThrow(KeyError);
  });

  it('says so when a public key is passed to sign or a private key to verify', () => {
    const pair = generateKeyPair();
    expect(() => parsePrivateKey(pair.publicKeyPem, 'k.pub')).toThrow(/this is a public key/);
    expect(() => parsePublicKey(pair.privateKeyPem, 'k.key')).toThrow(/this is a private key/);
  });
});
