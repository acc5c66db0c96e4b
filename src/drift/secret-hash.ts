/**
 * Keyed hashes (HMAC-SHA256 with the workspace's identity key) of secret versions and env values:
 * what an instance record may hold about a secret. Without the key a recorded hash cannot be used
 * to guess or confirm a value, and a report showing one reveals nothing. Pure.
 */
import { createHmac } from 'node:crypto';
import { compareParts } from './runtime-config-hash.js';
import type { DriftReason } from './types.js';

export const KEYED_PREFIX = 'hmac-sha256:';
/** The identity key's length in bytes. */
export const IDENTITY_KEY_BYTES = 32;

/**
 * `hmac-sha256:<hex>` of `value` (a string is hashed as its UTF-8 bytes, as it is written to a file).
 *
 * @example
 * keyedDigest(key, 'hunter2') // 'hmac-sha256:5f…'
 */
export function keyedDigest(key: Uint8Array, value: string | Uint8Array): string {
  return `${KEYED_PREFIX}${createHmac('sha256', key).update(value).digest('hex')}`;
}

/** Each secret's keyed hash, by name. */
export function secretDigests(
  key: Uint8Array,
  secrets: Record<string, string | Uint8Array>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(secrets)) out[name] = keyedDigest(key, value);
  return out;
}

/** One `secret` reason per secret added, removed or changed; names and keyed hashes only. */
export function compareSecrets(
  expected: Record<string, string>,
  observed: Record<string, string>,
): DriftReason[] {
  return compareParts(expected, observed).map(({ name, ...d }) => ({
    kind: 'secret' as const,
    name,
    path: `secret ${name}`,
    ...d,
  }));
}
