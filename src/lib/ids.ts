/** Identifiers: ULIDs for deployments and instances, digest-derived ids for releases. */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from './digest.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID (26 chars, Crockford base32): 48-bit time then 80 random bits; sorts by creation time. */
export function ulid(nowMs: number = Date.now(), random: Uint8Array = randomBytes(10)): string {
  let time = '';
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  let bits = 0n;
  for (const b of random) bits = (bits << 8n) | BigInt(b);
  let rand = '';
  for (let i = 0; i < 16; i++) {
    rand = CROCKFORD[Number(bits & 31n)]! + rand;
    bits >>= 5n;
  }
  return time + rand;
}

export const newDeploymentId = (): string => `dep-${ulid().toLowerCase()}`;
export const newInstanceId = (): string => `ins-${ulid().toLowerCase()}`;

/**
 * `rel-<12 hex of sha256(service, imageDigest, configDigest)>`. A release is one service's: two
 * services that run the same image with the same settings (two workers of one codebase) still
 * get a release each. (DESIGN.md's formula had no service; they collided.)
 */
export function releaseId(service: string, imageDigest: string, configDigest: string): string {
  return `rel-${sha256Hex(`${service}\n${imageDigest}\n${configDigest}`).slice(0, 12)}`;
}
