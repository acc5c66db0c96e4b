/**
 * Raw signatures: ECDSA P-256 over SHA-256 in ASN.1 DER (what cosign writes and `openssl dgst
 * -verify` reads) and Ed25519 (64 bytes, the message itself is signed).
 */
import { sign, verify } from 'node:crypto';
import type { PublicKeyInfo, SigningKey } from './key-pair.js';

/** Signs `data`; the result is DER for ECDSA and raw for Ed25519. */
export function signBytes(key: SigningKey, data: Uint8Array): Buffer {
  return sign(key.type === 'ed25519' ? null : 'sha256', data, key.privateKey);
}

/** True when `signature` over `data` verifies with `key`; malformed signatures are simply false. */
export function verifyBytes(key: PublicKeyInfo, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(key.type === 'ed25519' ? null : 'sha256', data, key.key, signature);
  } catch {
    return false;
  }
}

/** The first trusted key that verifies the signature, or undefined. */
export function findSigner(
  trusted: readonly PublicKeyInfo[],
  data: Uint8Array,
  signature: Uint8Array,
): PublicKeyInfo | undefined {
  return trusted.find((k) => verifyBytes(k, data, signature));
}
