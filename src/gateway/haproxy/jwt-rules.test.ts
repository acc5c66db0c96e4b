import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../listen-address.js';
import type { RouteAuth } from '../types.js';
import { pemKeys } from './jwks-pem.js';
import { jwtRules, MAX_AUDIENCE_ITEMS, MAX_SECRET_BYTES } from './jwt-rules.js';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
type SigningKey = Parameters<SignJWT['sign']>[0];
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'shop';
const secret = new TextEncoder().encode('a-test-secret-of-at-least-32-bytes!!');
/** Quotes, a backslash, spaces, `%`, `$`, `#`, a newline and bytes that are not UTF-8. */
const nastySecret = Uint8Array.from([
  0x22, 0x27, 0x5c, 0x20, 0x25, 0x24, 0x23, 0x0a, 0xff, 0xfe, 0x41, 0x2c, 0x29,
]);
let rs: KeyPair;
let es1: KeyPair;
let es2: KeyPair;
let jwks: { keys: Record<string, unknown>[] };

const now = () => Math.floor(Date.now() / 1000);
const sign = (alg: string, key: SigningKey, claims: Record<string, unknown> = {}, header = {}) =>
  new SignJWT({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, exp: now() + 300, ...claims })
    .setProtectedHeader({ alg, ...header })
    .sign(key);

beforeAll(async () => {
  [rs, es1, es2] = await Promise.all([
    generateKeyPair('RS256', { extractable: true }),
    generateKeyPair('ES256'),
    generateKeyPair('ES256'),
  ]);
  jwks = {
    keys: [
      { ...(await exportJWK(rs.publicKey)), kid: 'rs-1', use: 'sig' },
      { ...(await exportJWK(es1.publicKey)), kid: 'es-1', alg: 'ES256' },
      { ...(await exportJWK(es2.publicKey)), kid: 'es "2"' },
    ],
  };
});

describe('jwtRules (rule text)', () => {
  const dir = '/srv/cairn/.cairn/haproxy';

  it('guards every rule by its route and references one pem file per usable key', () => {
    const { rules, files } = jwtRules(7, { jwks, issuer: ISSUER, audience: AUDIENCE }, `${dir}/`);
    expect(rules.length).toBeGreaterThan(10);
    expect(rules[0]).toBe('http-request set-var(txn.jwt_route7) bool(1) if { var(txn.route) -m int 7 }');
    for (const rule of rules.slice(1)) {
      expect(rule).toMatch(/^http-request \S.* if \{ var\(txn\.jwt_route7\) -m found \}( |$)/);
      for (const branch of rule.split(' or ').slice(1))
        expect(branch).toMatch(/^\{ var\(txn\.jwt_route7\) -m found \} /);
    }
    expect(files.map((f) => f.name)).toEqual(['route-7-key-0.pem', 'route-7-key-1.pem', 'route-7-key-2.pem']);
    for (const f of files) {
      expect(f.content).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
      expect(rules.some((r) => r.includes(`'${dir}/${f.name}'`))).toBe(true);
    }
  });

  it('keeps every line within the 64 words haproxy reads of a config line', () => {
    const { rules } = jwtRules(123, { jwks, secret, issuer: ISSUER, audience: AUDIENCE }, '/a b/c');
    for (const rule of rules) expect(configWords(rule).length).toBeLessThanOrEqual(64);
    const audience = configWords(rules.find((r) => r.includes("'$.aud'"))!);
    expect(audience.some((w) => w.includes(`'$.aud[${MAX_AUDIENCE_ITEMS - 1}]'`))).toBe(true);
  });

  it('accepts only the algorithms of the configured keys', () => {
    const rsOnly = jwtRules(0, { jwks: { keys: [jwks.keys[0]!] } }, dir).rules;
    expect(rsOnly.join('\n')).toContain('!{ var(txn.jwt_alg) -m str RS256 }');
    expect(rsOnly.join('\n')).not.toMatch(/HS256|ES256/);
    const hsOnly = jwtRules(0, { secret }, dir);
    expect(hsOnly.files).toEqual([]);
    expect(hsOnly.rules.join('\n')).toContain('!{ var(txn.jwt_alg) -m str HS256 }');
    expect(hsOnly.rules.join('\n')).not.toContain('jwt_kid');
  });

  it('writes the secret only as hex inside bin(), so any byte but zero survives the config syntax', () => {
    const text = jwtRules(1, { secret: nastySecret }, dir).rules.join('\n');
    expect(text).toContain(`bin(${Buffer.from(nastySecret).toString('hex')})`);
    expect(text).not.toContain(Buffer.from(nastySecret).toString('latin1'));
    expect(text.match(/bin\(/g)).toHaveLength(1);
  });

  it('compares issuer, audience and kid as hex and looks into audience arrays', () => {
    const text = jwtRules(0, { jwks, issuer: 'a "b"', audience: AUDIENCE }, dir).rules.join('\n');
    expect(text).toContain(`-m str ${Buffer.from('a "b"').toString('hex').toUpperCase()}`);
    expect(text).toContain(`-m str ${Buffer.from('es "2"').toString('hex').toUpperCase()}`);
    expect(text).toContain(`'$.aud[${MAX_AUDIENCE_ITEMS - 1}]'`);
    expect(text).not.toContain('a "b"');
  });

  it('refuses a secret haproxy would cut short, an empty one, and a route without keys', () => {
    expect(() => jwtRules(3, { secret: Uint8Array.from([0x61, 0, 0x62]) }, dir)).toThrow(
      /route 3: the HS256 secret holds a zero byte/,
    );
    expect(() => jwtRules(3, { secret: new Uint8Array() }, dir)).toThrow(
      /route 3: the HS256 secret is empty/,
    );
    expect(() => jwtRules(3, { secret: new Uint8Array(MAX_SECRET_BYTES + 1).fill(7) }, dir)).toThrow(
      /route 3: the HS256 secret has 4097 bytes/,
    );
    expect(() => jwtRules(4, {}, dir)).toThrow(/route 4: no RS256\/ES256 key and no secret/);
    const onlyEnc = { keys: [{ ...jwks.keys[0], use: 'enc' }] };
    expect(() => jwtRules(4, { jwks: onlyEnc }, dir)).toThrow(/route 4: no RS256/);
  });

  it('refuses a key folder that haproxy.cfg cannot name, and a relative one', () => {
    for (const bad of ["/srv/it's", '/srv/a,b', '/srv/a(b)', '/srv/$HOME', 'relative/dir'])
      expect(() => jwtRules(5, { secret }, bad)).toThrow(
        /route 5: key folder .* cannot be named in haproxy.cfg/,
      );
    try {
      jwtRules(5, { secret }, '/srv/a,b');
    } catch (err) {
      expect((err as { hint?: string }).hint).toMatch(/letters, digits/);
    }
  });
});

describe('pemKeys', () => {
  it('skips keys no RS256/ES256 token can use and exports only public halves', async () => {
    const p384 = await generateKeyPair('ES384');
    const ed = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const privateRsa = { ...(await exportJWK(rs.privateKey)), kid: 'private' };
    const keys = pemKeys(0, [
      { ...(await exportJWK(p384.publicKey)), kid: 'p384' },
      { ...(await exportJWK(ed.publicKey)), kid: 'ed' },
      { ...(await exportJWK(es1.publicKey)), kid: 'rs-alg', alg: 'RS256' },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'oct' },
      privateRsa,
    ]);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ alg: 'RS256', kid: 'private' });
    expect(keys[0]!.pem).toBe(
      createPublicKey({ key: privateRsa, format: 'jwk' }).export({ type: 'spki', format: 'pem' }),
    );
    expect(keys[0]!.pem).not.toContain('PRIVATE');
  });

  it('names the route and the key of a jwk that does not parse or is a weak RSA key', async () => {
    expect(() => pemKeys(2, [{ kty: 'RSA', n: 'AQAB' }])).toThrow(/convert jwks key 0 of route 2 to pem/);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const keys = [jwks.keys[0]!, weak as Record<string, unknown>];
    expect(() => pemKeys(2, keys)).toThrow(/jwks key 1 of route 2: an RSA key of 1024 bits is too weak/);
  });
});

describe('jwtRules in a real haproxy', () => {
  let dir: string;
  let haproxy: ChildProcess;
  let base: string;
  let stderr = '';

  /** Route 0: JWKS (RSA + two P-256 keys) and a secret, issuer, audience; 1: JWKS only; 2: an awkward secret; 3: open. */
  const routes: RouteAuth[] = [];

  beforeAll(async () => {
    routes.push({ jwks, secret, issuer: ISSUER, audience: AUDIENCE }, { jwks }, { secret: nastySecret });
    dir = await mkdtemp(join(tmpdir(), 'cairn jwt-')); // a space in the folder, as under a user's home
    const rules: string[] = [];
    for (const [i, auth] of routes.entries()) {
      const r = jwtRules(i, auth, dir);
      for (const f of r.files) await writeFile(join(dir, f.name), f.content, { mode: 0o600 });
      rules.push(...r.rules);
    }
    const port = await freePort();
    const cfg = join(dir, 'haproxy.cfg');
    await writeFile(cfg, config(port, rules), { mode: 0o600 });
    haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    haproxy.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    base = `http://127.0.0.1:${port}`;
    await waitForListener(base, () => stderr);
  });

  afterAll(async () => {
    if (haproxy && haproxy.exitCode === null) {
      const exited = new Promise((r) => haproxy.once('exit', r));
      haproxy.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const call = async (path: string, token?: string) => {
    const headers =
      token === undefined ? {} : { authorization: token.includes(' ') ? token : `Bearer ${token}` };
    const res = await request(`${base}${path}`, { headers });
    return {
      status: res.statusCode,
      challenge: res.headers['www-authenticate'],
      body: await res.body.text(),
    };
  };
  const expectRefused = async (path: string, token: string | undefined, reason: string) => {
    expect(await call(path, token)).toEqual({
      status: 401,
      challenge: 'Bearer error="invalid_token"',
      body: `${JSON.stringify({ error: `authenticate: ${reason}` })}\n`,
    });
  };
  const expectAccepted = async (path: string, token: string) => {
    expect(await call(path, token)).toMatchObject({ status: 200, body: 'ok' });
  };

  it('accepts RS256, ES256 by kid (and without kid against each key) and HS256', async () => {
    await expectAccepted('/', await sign('RS256', rs.privateKey, {}, { kid: 'rs-1' }));
    await expectAccepted('/', await sign('ES256', es1.privateKey, {}, { kid: 'es-1' }));
    await expectAccepted('/', await sign('ES256', es2.privateKey, {}, { kid: 'es "2"' }));
    await expectAccepted('/', await sign('ES256', es2.privateKey));
    await expectAccepted('/', await sign('HS256', secret));
    await expectAccepted('/', await sign('HS256', secret, { aud: ['other', AUDIENCE] }));
    await expectAccepted('/', `bearer ${await sign('RS256', rs.privateKey)}`);
  });

  it('refuses a foreign key, a kid that names another key, alg none and HS256 keyed with the public pem', async () => {
    const other = await generateKeyPair('ES256');
    await expectRefused('/', await sign('ES256', other.privateKey, {}, { kid: 'es-1' }), 'invalid signature');
    await expectRefused('/', await sign('ES256', other.privateKey), 'invalid signature');
    await expectRefused('/', await sign('ES256', es2.privateKey, {}, { kid: 'es-1' }), 'invalid signature');
    await expectRefused('/', await sign('RS256', rs.privateKey, {}, { kid: 'unknown' }), 'invalid signature');
    const unsigned = `${b64({ alg: 'none' })}.${b64({ sub: 'x', iss: ISSUER, aud: AUDIENCE })}.`;
    await expectRefused('/', unsigned, 'algorithm not accepted');
    const pem = new TextEncoder().encode(pemKeys(0, [jwks.keys[0]!])[0]!.pem);
    const confused = await sign('HS256', pem, {}, { kid: 'rs-1' });
    await expectRefused('/', confused, 'invalid signature');
    await expectRefused('/jwks-only', confused, 'algorithm not accepted');
    await expectRefused('/jwks-only', await sign('HS256', secret), 'algorithm not accepted');
  });

  it('refuses expired, not yet valid, wrong issuer, wrong audience and malformed claims', async () => {
    const key = rs.privateKey;
    await expectRefused('/', await sign('RS256', key, { exp: now() - 1 }), 'token expired');
    await expectRefused('/', await sign('RS256', key, { nbf: now() + 60 }), 'token not yet valid');
    await expectAccepted('/', await sign('RS256', key, { nbf: now() - 1 }));
    await expectRefused('/', await sign('RS256', key, { iss: 'https://evil.test' }), 'wrong issuer');
    await expectRefused('/', await sign('RS256', key, { iss: undefined }), 'wrong issuer');
    await expectRefused('/', await sign('RS256', key, { aud: 'other' }), 'wrong audience');
    await expectRefused('/', await sign('RS256', key, { aud: ['a', 'b'] }), 'wrong audience');
    await expectRefused('/', await sign('RS256', key, { exp: 'tomorrow' }), 'invalid exp claim');
    await expectRefused('/', await sign('RS256', key, { nbf: '12abc' }), 'invalid nbf claim');
    await expectAccepted('/', await sign('RS256', key, { exp: now() + 60.5 }));
    await expectRefused('/', await sign('RS256', key, { exp: now() - 0.5 }), 'token expired');
    await expectRefused(
      '/',
      await sign('RS256', key, {}, { crit: ['b64'], b64: true }),
      'unsupported critical header',
    );
  });

  it('refuses a missing header, another scheme and garbage', async () => {
    await expectRefused('/', undefined, 'missing bearer token');
    await expectRefused('/', `Basic ${Buffer.from('a:b').toString('base64')}`, 'missing bearer token');
    await expectRefused('/', 'garbage', 'malformed token');
    await expectRefused('/', 'a.b.c', 'malformed token');
  });

  it('verifies a secret made of quotes, spaces, backslashes and non-UTF-8 bytes', async () => {
    await expectAccepted('/awkward', await sign('HS256', nastySecret));
    await expectRefused('/awkward', await sign('HS256', nastySecret.subarray(0, 6)), 'invalid signature');
  });

  it('leaves routes without auth alone', async () => {
    expect(await call('/open')).toMatchObject({ status: 200, body: 'ok' });
  });
});

/** Splits a config line into words as HAProxy does: whitespace outside quotes separates them. */
function configWords(line: string): string[] {
  return line.match(/(?:'[^']*'|"(?:[^"\\]|\\.)*"|[^\s'"])+/g) ?? [];
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function config(port: number, rules: string[]): string {
  return [
    'global',
    '  nbthread 1',
    'defaults',
    '  mode http',
    '  timeout client 5s',
    '  timeout connect 5s',
    '  timeout server 5s',
    'frontend fe',
    `  bind 127.0.0.1:${port}`,
    '  http-request set-var(txn.route) int(0)',
    '  http-request set-var(txn.route) int(1) if { path_beg /jwks-only }',
    '  http-request set-var(txn.route) int(2) if { path_beg /awkward }',
    '  http-request set-var(txn.route) int(3) if { path_beg /open }',
    ...rules.map((r) => `  ${r}`),
    '  http-request return status 200 content-type text/plain string ok',
    '',
  ].join('\n');
}

async function waitForListener(base: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await (await request(`${base}/open`)).body.dump();
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`start haproxy: not listening after 5 s: ${log()}`, { cause: err });
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
