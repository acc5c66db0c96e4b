import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BearerVerifier, createBearerVerifier } from './jwt-auth.js';

const secret = new TextEncoder().encode('a-test-secret-of-at-least-32-bytes!!');
type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
type SigningKey = Parameters<SignJWT['sign']>[0];
let es: KeyPair;
let rs: KeyPair;
let verifier: BearerVerifier;

const sign = (alg: string, key: SigningKey, claims: Record<string, unknown> = {}) =>
  new SignJWT({
    sub: 'alice',
    iss: 'https://issuer.test',
    aud: 'shop',
    exp: Math.floor(Date.now() / 1000) + 300,
    ...claims,
  })
    .setProtectedHeader({ alg, kid: alg })
    .sign(key);

beforeAll(async () => {
  es = await generateKeyPair('ES256');
  rs = await generateKeyPair('RS256');
  const keys = [
    { ...(await exportJWK(es.publicKey)), kid: 'ES256', alg: 'ES256' },
    { ...(await exportJWK(rs.publicKey)), kid: 'RS256', alg: 'RS256' },
  ];
  verifier = createBearerVerifier({
    jwks: { keys },
    secret,
    issuer: 'https://issuer.test',
    audience: 'shop',
  });
});

describe('createBearerVerifier', () => {
  it('accepts ES256, RS256 and HS256 tokens from the configured keys', async () => {
    for (const [alg, key] of [
      ['ES256', es.privateKey],
      ['RS256', rs.privateKey],
      ['HS256', secret],
    ] as const)
      expect(await verifier.verify(`Bearer ${await sign(alg, key)}`)).toEqual({ ok: true, subject: 'alice' });
  });

  it('refuses a missing header, a wrong audience, an expired token and a foreign key', async () => {
    const other = await generateKeyPair('ES256');
    const expired = await sign('ES256', es.privateKey, { exp: Math.floor(Date.now() / 1000) - 60 });
    const cases = [
      undefined,
      'Basic abc',
      `Bearer ${await sign('ES256', es.privateKey, { aud: 'other' })}`,
      `Bearer ${expired}`,
      `Bearer ${await sign('ES256', other.privateKey)}`,
    ];
    for (const header of cases) expect((await verifier.verify(header)).ok).toBe(false);
  });

  it('refuses alg none and algorithms it has no key for', async () => {
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`;
    expect(await verifier.verify(`Bearer ${unsigned}`)).toMatchObject({
      ok: false,
      reason: 'algorithm none not accepted',
    });
    const hsOnly = createBearerVerifier({ secret });
    expect((await hsOnly.verify(`Bearer ${await sign('ES256', es.privateKey)}`)).ok).toBe(false);
  });

  it('needs a key source', () => {
    expect(() => createBearerVerifier({})).toThrow(/neither jwks nor secret/);
  });
});
