import { describe, expect, it } from 'vitest';
import { type Envelope, pae, signEnvelope, verifyEnvelope } from './dsse.js';
import { generateKeyPair, parsePrivateKey, parsePublicKey } from './key-pair.js';

const keys = (type: 'ecdsa-p256' | 'ed25519' = 'ecdsa-p256') => {
  const pair = generateKeyPair(type);
  return {
    signing: parsePrivateKey(pair.privateKeyPem, 'k'),
    pub: parsePublicKey(pair.publicKeyPem, 'k.pub'),
  };
};

describe('DSSE', () => {
  it('encodes PAE exactly as the spec test vector', () => {
    const encoded = pae('http://example.com/HelloWorld', Buffer.from('hello world'));
    expect(encoded.toString('utf8')).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('counts bytes, not characters, in PAE lengths', () => {
    expect(pae('t', Buffer.from('é', 'utf8')).toString('utf8')).toBe('DSSEv1 1 t 2 é');
  });

  it.each(['ecdsa-p256', 'ed25519'] as const)('signs and verifies an envelope with %s', (type) => {
    const { signing, pub } = keys(type);
    const env = signEnvelope('application/vnd.in-toto+json', Buffer.from('{"a":1}'), signing);
    expect(env.signatures[0]!.keyid).toBe(pub.keyId);
    expect(verifyEnvelope(env, [pub])?.keyId).toBe(pub.keyId);
  });

  it('rejects a changed payload, a changed payload type and an untrusted key', () => {
    const { signing, pub } = keys();
    const other = keys().pub;
    const env = signEnvelope('application/vnd.in-toto+json', Buffer.from('{"a":1}'), signing);
    const payload: Envelope = { ...env, payload: Buffer.from('{"a":2}').toString('base64') };
    const type: Envelope = { ...env, payloadType: 'text/plain' };
    expect(verifyEnvelope(payload, [pub])).toBeUndefined();
    expect(verifyEnvelope(type, [pub])).toBeUndefined();
    expect(verifyEnvelope(env, [other])).toBeUndefined();
    expect(verifyEnvelope(env, [other, pub])?.keyId).toBe(pub.keyId);
  });
});
