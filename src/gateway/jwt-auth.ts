/**
 * JWT bearer authentication of a route with `jose`: RS256/ES256 against a JWKS document,
 * HS256 against a shared secret. Only the algorithms the configured keys allow are accepted, so a
 * token can never pick its own verification (no `none`, no HS256 with a public key).
 */
import { createLocalJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { ValidationError } from '../lib/index.js';
import type { RouteAuth } from './types.js';

const ASYMMETRIC = ['RS256', 'ES256'];
const SYMMETRIC = ['HS256'];

export type AuthResult = { ok: true; subject?: string } | { ok: false; reason: string };

/** Verifies `Authorization: Bearer …` headers for one route. */
export interface BearerVerifier {
  verify(authorization: string | undefined): Promise<AuthResult>;
}

/** Builds a verifier; fails when the route names neither a JWKS nor a secret. */
export function createBearerVerifier(auth: RouteAuth): BearerVerifier {
  const jwks: JWTVerifyGetKey | undefined = auth.jwks ? createLocalJWKSet(auth.jwks as never) : undefined;
  const secret = auth.secret;
  if (!jwks && !secret)
    throw new ValidationError('configure route auth: neither jwks nor secret is set', [], {
      hint: 'give auth.jwks (a JWKS file) for RS256/ES256 or auth.secret (a secret reference) for HS256',
    });
  const options = { issuer: auth.issuer, audience: auth.audience };
  return {
    async verify(authorization) {
      const token = bearerToken(authorization);
      if (!token) return { ok: false, reason: 'missing bearer token' };
      const alg = headerAlg(token);
      try {
        if (jwks && alg && ASYMMETRIC.includes(alg)) {
          const { payload } = await jwtVerify(token, jwks, { ...options, algorithms: ASYMMETRIC });
          return { ok: true, subject: payload.sub };
        }
        if (secret && alg && SYMMETRIC.includes(alg)) {
          const { payload } = await jwtVerify(token, secret, { ...options, algorithms: SYMMETRIC });
          return { ok: true, subject: payload.sub };
        }
        return { ok: false, reason: `algorithm ${alg ?? 'unknown'} not accepted` };
      } catch (err) {
        return { ok: false, reason: (err as { code?: string }).code ?? 'invalid token' };
      }
    },
  };
}

function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer\s+([A-Za-z0-9_.~+/=-]+)\s*$/i.exec(authorization);
  return m?.[1];
}

/** The `alg` of a compact JWS header, without trusting anything else in it. */
function headerAlg(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as {
      alg?: unknown;
    };
    return typeof header.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}
