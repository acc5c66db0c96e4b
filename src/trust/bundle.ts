/**
 * Sigstore bundles v0.3 holding a DSSE envelope, signed by a plain public key (no certificate,
 * no transparency log): built with `@sigstore/bundle`, verified offline with `@sigstore/verify`.
 */
import { bundleFromJSON, bundleToJSON, type SerializedBundle, toDSSEBundle } from '@sigstore/bundle';
import { type TrustMaterial, toSignedEntity, Verifier } from '@sigstore/verify';
import { IntegrityError } from '../lib/index.js';
import { type Envelope, envelopePayload, parseEnvelope } from './dsse.js';
import type { PublicKeyInfo } from './key-pair.js';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export type { SerializedBundle };

/** Wraps a single-signature envelope in a bundle whose key hint is the signer's key id. */
export function envelopeToBundle(envelope: Envelope): SerializedBundle {
  const [signature] = envelope.signatures;
  if (!signature || envelope.signatures.length !== 1) {
    throw new TypeError('a bundle holds an envelope with exactly one signature');
  }
  const bundle = toDSSEBundle({
    artifact: envelopePayload(envelope),
    artifactType: envelope.payloadType,
    signature: Buffer.from(signature.sig, 'base64'),
    keyHint: signature.keyid,
  });
  return bundleToJSON(bundle);
}

/** Trust material with no CA, log or timestamp authority: only the given keys, found by key id. */
function keyOnlyTrust(trusted: readonly PublicKeyInfo[]): TrustMaterial {
  return {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: (hint: string) => {
      const key = trusted.find((k) => k.keyId === hint);
      if (!key)
        throw new IntegrityError(`the bundle is signed by key ${hint.slice(0, 12)}, which is not trusted`);
      return { publicKey: key.key, validFor: () => true };
    },
  };
}

export interface VerifiedBundle {
  signer: PublicKeyInfo;
  envelope: Envelope;
}

/**
 * Verifies a bundle (JSON value) offline against trusted public keys; returns the envelope it
 * carries and the key that signed it, or throws an `IntegrityError` saying why not.
 */
export function verifyBundle(
  json: unknown,
  trusted: readonly PublicKeyInfo[],
  what = 'the bundle',
): VerifiedBundle {
  let envelope: Envelope;
  let hint: string;
  try {
    const bundle = bundleFromJSON(json);
    if (bundle.content.$case !== 'dsseEnvelope') throw new Error('it holds no DSSE envelope');
    if (bundle.verificationMaterial.content.$case !== 'publicKey')
      throw new Error('it is not signed by a public key');
    hint = bundle.verificationMaterial.content.publicKey.hint;
    const verifier = new Verifier(keyOnlyTrust(trusted), {
      tlogThreshold: 0,
      ctlogThreshold: 0,
      timestampThreshold: 0,
    });
    verifier.verify(toSignedEntity(bundle));
    envelope = parseEnvelope((json as { dsseEnvelope?: unknown }).dsseEnvelope, what);
  } catch (error) {
    const reason = (error as Error).message.replace(/^./, (c) => c.toLowerCase());
    throw new IntegrityError(`verifying ${what}: ${reason}`, { cause: error });
  }
  const signer = trusted.find((k) => k.keyId === hint)!;
  return { signer, envelope };
}
