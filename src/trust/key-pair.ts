/**
 * Signing keys in the two forms cairn supports: ECDSA P-256 with SHA-256 (cosign's default, checked
 * by plain `openssl`) and Ed25519. Private keys are PKCS#8 PEM, public keys SPKI PEM. No fs here.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { CairnError } from '../lib/index.js';

export const KEY_TYPES = ['ecdsa-p256', 'ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = 'ecdsa-p256';

/** A freshly generated key pair, both halves as PEM text. */
export interface KeyPairPem {
  type: KeyType;
  keyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A private key ready to sign, with its public half. */
export interface SigningKey {
  type: KeyType;
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A public key ready to verify; `source` names where it came from (a file, a spec entry). */
export interface PublicKeyInfo {
  type: KeyType;
  keyId: string;
  key: KeyObject;
  pem: string;
  source: string;
}

/** A key that cannot be used: unreadable, not PEM, the wrong algorithm. Exit code 1. */
export class KeyError extends CairnError {
  constructor(message: string, hint?: string) {
    super('invalid_key', message, hint ? { hint } : {});
  }
}

const KEY_HINT = 'create a key with `cairn keygen` (ECDSA P-256 or Ed25519)';

export function generateKeyPair(type: KeyType = DEFAULT_KEY_TYPE): KeyPairPem {
  const { privateKey, publicKey } =
    type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    type,
    keyId: keyIdOf(publicKey),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The key id: hex sha256 of the public key's SPKI DER, stable across PEM formatting. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Which supported type a key is, or a `KeyError` naming what it is instead. */
export function keyTypeOf(key: KeyObject, source: string): KeyType {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    return 'ecdsa-p256';
  const what =
    key.asymmetricKeyType === 'ec' ? `ec ${key.asymmetricKeyDetails?.namedCurve}` : key.asymmetricKeyType;
  throw new KeyError(`reading key ${source}: ${what} keys are not supported`, KEY_HINT);
}

export function parsePrivateKey(pem: string, source: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    const isPublic = /BEGIN PUBLIC KEY/.test(pem);
    throw new KeyError(
      `reading private key ${source}: ${isPublic ? 'this is a public key' : 'not a PEM private key'}`,
      isPublic ? 'sign with the private key (the .key file); verify with the .pub file' : KEY_HINT,
    );
  }
  const type = keyTypeOf(privateKey, source);
  const publicKey = createPublicKey(privateKey);
  return { type, keyId: keyIdOf(publicKey), privateKey, publicKey };
}

export function parsePublicKey(pem: string, source: string): PublicKeyInfo {
  if (/PRIVATE KEY/.test(pem)) {
    throw new KeyError(
      `reading public key ${source}: this is a private key`,
      'pass the public key (the .pub file)',
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new KeyError(`reading public key ${source}: not a PEM public key (SPKI)`, KEY_HINT);
  }
  const type = keyTypeOf(key, source);
  return {
    type,
    keyId: keyIdOf(key),
    key,
    pem: key.export({ type: 'spki', format: 'pem' }).toString(),
    source,
  };
}

/** The public half of a signing key, as a verifier would see it. */
export function publicKeyOf(signing: SigningKey, source = 'signing key'): PublicKeyInfo {
  const pem = signing.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { type: signing.type, keyId: signing.keyId, key: signing.publicKey, pem, source };
}
