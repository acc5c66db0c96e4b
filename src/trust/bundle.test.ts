import { describe, expect, it } from 'vitest';
import { BUNDLE_MEDIA_TYPE, envelopeToBundle, verifyBundle } from './bundle.js';
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from './dsse.js';
import { generateKeyPair, parsePrivateKey, parsePublicKey } from './key-pair.js';

const keys = (type: 'ecdsa-p256' | 'ed25519' = 'ecdsa-p256') => {
  const pair = generateKeyPair(type);
  return {
    signing: parsePrivateKey(pair.privateKeyPem, 'k'),
    pub: parsePublicKey(pair.publicKeyPem, 'k.pub'),
  };
};
const PAYLOAD = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');

describe('sigstore bundle v0.3', () => {
  it.each(['ecdsa-p256', 'ed25519'] as const)('verifies offline with a plain %s public key', (type) => {
    const { signing, pub } = keys(type);
    const bundle = envelopeToBundle(signEnvelope(INTOTO_PAYLOAD_TYPE, PAYLOAD, signing));
    expect(bundle.mediaType).toBe(BUNDLE_MEDIA_TYPE);
    expect(bundle.verificationMaterial.publicKey?.hint).toBe(pub.keyId);
    expect(bundle.verificationMaterial.tlogEntries ?? []).toEqual([]);
    const verified = verifyBundle(JSON.parse(JSON.stringify(bundle)), [pub]);
    expect(verified.signer.keyId).toBe(pub.keyId);
    expect(Buffer.from(verified.envelope.payload, 'base64')).toEqual(PAYLOAD);
  });

  it('fails for an untrusted key, a flipped payload byte and a flipped signature byte', () => {
    const { signing, pub } = keys();
    const bundle = envelopeToBundle(signEnvelope(INTOTO_PAYLOAD_TYPE, PAYLOAD, signing));
    expect(() => verifyBundle(bundle, [keys().pub])).toThrow(/not trusted/);
    const json = JSON.parse(JSON.stringify(bundle));
    const payload = Buffer.from(json.dsseEnvelope.payload, 'base64');
    payload[3]! ^= 1;
    const flipped = { ...json, dsseEnvelope: { ...json.dsseEnvelope, payload: payload.toString('base64') } };
    expect(() => verifyBundle(flipped, [pub])).toThrow(/verifying the bundle/);
    const sig = Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64');
    sig[sig.length - 1]! ^= 1;
    const badSig = {
      ...json,
      dsseEnvelope: {
        ...json.dsseEnvelope,
        signatures: [{ ...json.dsseEnvelope.signatures[0], sig: sig.toString('base64') }],
      },
    };
    expect(() => verifyBundle(badSig, [pub])).toThrow(/verifying the bundle/);
  });

  it('fails for something that is not a bundle', () => {
    expect(() => verifyBundle({ mediaType: 'x' }, [keys().pub], 'the sbom')).toThrow(/verifying the sbom/);
  });
});
