/** Content digests in the OCI form `sha256:<64 hex>`. */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256Digest(data: string | Uint8Array): string {
  return `sha256:${sha256Hex(data)}`;
}

/** Digest of the canonical JSON form of a value. */
export function jsonDigest(value: unknown): string {
  return sha256Digest(canonicalJson(value));
}

export function isDigest(s: string): boolean {
  return DIGEST_PATTERN.test(s);
}

/** The 64 hex characters of a `sha256:` digest. */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) throw new TypeError(`not a sha256 digest: ${digest}`);
  return digest.slice('sha256:'.length);
}

/** First 12 hex characters, for display and short ids. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
