/**
 * AES-256-GCM sealing of one secret value under the store key. The additional data binds a
 * sealed value to its name and version, so a row copied onto another secret fails to open. Pure.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { IntegrityError } from '../lib/index.js';

export const STORE_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed value: nonce and ciphertext with its 16-byte tag appended. */
export interface Sealed {
  nonce: Buffer;
  sealed: Buffer;
}

/** `sk-<16 hex>`: names a store key without revealing it (recorded with every sealed row). */
export function storeKeyId(key: Uint8Array): string {
  return `sk-${createHash('sha256').update('cairn secret store key\n').update(key).digest('hex').slice(0, 16)}`;
}

const additionalData = (name: string, version: number) => Buffer.from(`cairn-secret\n${name}\n${version}`);

/** Seals `value` as version `version` of secret `name`; a fresh random nonce every time. */
export function sealSecret(key: Uint8Array, name: string, version: number, value: Uint8Array): Sealed {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(name, version));
  const sealed = Buffer.concat([cipher.update(value), cipher.final(), cipher.getAuthTag()]);
  return { nonce, sealed };
}

/** Opens a sealed value; any change to it, its name, its version or the key is an IntegrityError. */
export function openSecret(key: Uint8Array, name: string, version: number, box: Sealed): Buffer {
  if (box.sealed.length < TAG_BYTES) throw unreadable(name, version);
  const decipher = createDecipheriv('aes-256-gcm', key, box.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(additionalData(name, version));
  decipher.setAuthTag(box.sealed.subarray(box.sealed.length - TAG_BYTES));
  try {
    // Both parts before anything is returned: no partial plaintext ever leaves this function.
    const body = decipher.update(box.sealed.subarray(0, box.sealed.length - TAG_BYTES));
    return Buffer.concat([body, decipher.final()]);
  } catch {
    throw unreadable(name, version);
  }
}

function unreadable(name: string, version: number): IntegrityError {
  return new IntegrityError(`decrypting secret ${name} v${version}: it does not open with the store key`, {
    hint: 'the row was changed or sealed under another key; set the secret again with `cairn secret rotate`',
  });
}
