/**
 * The X.509 library cairn builds certificates with (@peculiar/x509 over Node's WebCrypto), set up
 * once. Verification uses node:crypto's own X509Certificate instead, so what is made here is
 * checked by a second implementation.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** ECDSA P-256 with SHA-256: the SPIFFE default, and cosign's. */
export const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A fresh P-256 key pair, extractable (its private half is written to the instance's folder). */
export function newKeyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** A private key as PKCS#8 PEM. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** A PKCS#8 PEM private key as a signing key (ECDSA P-256 only). */
export async function importSigningKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (!der) throw new Error('no PEM block found');
  return webcrypto.subtle.importKey('pkcs8', der, EC_KEY, false, ['sign']);
}

/** A random positive 128-bit serial number, hex (RFC 5280: at most 20 octets, positive). */
export function randomSerial(random: Uint8Array): string {
  const bytes = Buffer.from(random.subarray(0, 16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString('hex');
}
