/**
 * JWKS keys as HAProxy's `jwt_verify` needs them: one SPKI PEM public key per usable JWK, with the
 * one algorithm it may verify. Only node:crypto's key conversion; no files are read or written.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ValidationError } from '../../lib/index.js';

/** RS256 keys shorter than this are refused, as `jose` refuses them. */
const MIN_RSA_BITS = 2048;

/** The asymmetric algorithms both gateway engines accept (the built-in one through `jose`). */
export type AsymmetricAlg = 'RS256' | 'ES256';

/** One JWKS key ready for `jwt_verify`: its algorithm, its `kid` if it has one, its public PEM. */
export interface PemKey {
  alg: AsymmetricAlg;
  kid?: string;
  pem: string;
}

/**
 * The keys of a JWKS that can verify RS256 or ES256 tokens, in document order. Keys for other
 * uses or algorithms (encryption keys, P-384, Ed25519, `oct`) are skipped, as `jose` never picks
 * them for RS256/ES256 either; a key that claims to be usable but does not parse is an error.
 */
export function pemKeys(routeIndex: number, keys: Record<string, unknown>[]): PemKey[] {
  const out: PemKey[] = [];
  keys.forEach((jwk, i) => {
    const alg = algOf(jwk);
    if (!alg) return;
    const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
    out.push({ alg, ...(kid === undefined ? {} : { kid }), pem: toPem(routeIndex, i, jwk) });
  });
  return out;
}

/** RS256 for RSA keys, ES256 for P-256 keys, unless `use`, `key_ops` or `alg` rule it out. */
function algOf(jwk: Record<string, unknown>): AsymmetricAlg | undefined {
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return undefined;
  const alg = jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : undefined;
  if (!alg || (jwk.alg !== undefined && jwk.alg !== alg)) return undefined;
  return alg;
}

/**
 * The public half only, even when the JWK holds a private key. RSA keys under 2048 bits are
 * refused: `jose` (the built-in engine) would refuse every token they sign, HAProxy would not.
 */
function toPem(routeIndex: number, keyIndex: number, jwk: Record<string, unknown>): string {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new ValidationError(
      `convert jwks key ${keyIndex} of route ${routeIndex} to pem: ${(err as Error).message}`,
      [],
      { hint: 'check that the jwks file holds valid RSA or P-256 public keys (RFC 7517)', cause: err },
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits < MIN_RSA_BITS)
    throw new ValidationError(
      `use jwks key ${keyIndex} of route ${routeIndex}: an RSA key of ${bits} bits is too weak`,
      [],
      {
        hint: `use RSA keys of ${MIN_RSA_BITS} bits or more`,
      },
    );
  return key.export({ type: 'spki', format: 'pem' }).toString();
}
