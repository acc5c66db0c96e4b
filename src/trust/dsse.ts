/**
 * DSSE (Dead Simple Signing Envelope) v1: the signature covers the pre-authentication encoding
 * `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`, never the bare payload, so a payload cannot be
 * re-read as another type.
 */
import { IntegrityError } from '../lib/index.js';
import type { PublicKeyInfo, SigningKey } from './key-pair.js';
import { findSigner, signBytes } from './signature.js';

export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** The JSON form of a DSSE envelope; `payload` and `sig` are standard base64. */
export interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

/** Pre-authentication encoding; lengths are byte counts in ASCII decimal. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  const head = Buffer.from(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `, 'utf8');
  return Buffer.concat([head, payload]);
}

export function signEnvelope(payloadType: string, payload: Uint8Array, key: SigningKey): Envelope {
  const sig = signBytes(key, pae(payloadType, payload));
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: [{ keyid: key.keyId, sig: sig.toString('base64') }],
  };
}

export function envelopePayload(envelope: Envelope): Buffer {
  return Buffer.from(envelope.payload, 'base64');
}

/** Reads an envelope from JSON bytes, or an `IntegrityError` saying what is malformed. */
export function parseEnvelope(value: unknown, what: string): Envelope {
  const e = value as Partial<Envelope> | null;
  const ok =
    e !== null &&
    typeof e === 'object' &&
    typeof e.payloadType === 'string' &&
    typeof e.payload === 'string' &&
    Array.isArray(e.signatures) &&
    e.signatures.every((s) => typeof s?.sig === 'string');
  if (!ok) throw new IntegrityError(`reading ${what}: not a DSSE envelope`);
  return e as Envelope;
}

/** The trusted key that signed the envelope, or undefined when no signature verifies. */
export function verifyEnvelope(
  envelope: Envelope,
  trusted: readonly PublicKeyInfo[],
): PublicKeyInfo | undefined {
  const message = pae(envelope.payloadType, envelopePayload(envelope));
  for (const s of envelope.signatures) {
    const signer = findSigner(trusted, message, Buffer.from(s.sig, 'base64'));
    if (signer) return signer;
  }
  return undefined;
}
