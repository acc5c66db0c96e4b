/**
 * cosign's "simple signing" payload: the JSON document whose bytes the `.sig` signature covers.
 * It names the manifest digest it vouches for; the signature sits in the layer's
 * `dev.cosignproject.cosign/signature` annotation (base64 DER for ECDSA).
 */
import { IntegrityError, isDigest } from '../lib/index.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

export interface SimpleSigning {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: string;
  };
  optional: Record<string, string> | null;
}

/** The payload bytes for an image; key order is cosign's so the bytes look the same. */
export function simpleSigningPayload(reference: string, manifestDigest: string): Buffer {
  const doc: SimpleSigning = {
    critical: {
      identity: { 'docker-reference': reference },
      image: { 'docker-manifest-digest': manifestDigest },
      type: COSIGN_SIGNATURE_TYPE,
    },
    optional: null,
  };
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

/** The manifest digest a payload vouches for; an `IntegrityError` when it is not a payload. */
export function signedDigest(payload: Uint8Array): string {
  let doc: Partial<SimpleSigning>;
  try {
    doc = JSON.parse(Buffer.from(payload).toString('utf8')) as Partial<SimpleSigning>;
  } catch {
    throw new IntegrityError('reading the simple-signing payload: not JSON');
  }
  const digest = doc?.critical?.image?.['docker-manifest-digest'];
  if (doc?.critical?.type !== COSIGN_SIGNATURE_TYPE || typeof digest !== 'string' || !isDigest(digest)) {
    throw new IntegrityError('reading the simple-signing payload: not a cosign image signature');
  }
  return digest;
}

/** The tag under which cosign keeps the signatures of a manifest: `sha256-<hex>.sig`. */
export function signatureTag(manifestDigest: string): string {
  return `${manifestDigest.replace(':', '-')}.sig`;
}
