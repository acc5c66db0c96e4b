/**
 * JWT bearer authentication of one route as HAProxy 2.6 frontend rules (`http_auth_bearer`,
 * `jwt_header_query`, `jwt_payload_query`, `jwt_verify`), refusing what the built-in engine refuses:
 * algorithms the configured keys do not allow (so never `none`, never HS256 against a public key),
 * bad signatures, `exp` reached, `nbf` not reached, a wrong `iss` or `aud`. Pure: returns the rule
 * text and the key files; the caller writes the files (mode 0600) and the config.
 */
import { ValidationError } from '../../lib/index.js';
import type { RouteAuth } from '../types.js';
import { type PemKey, pemKeys } from './jwks-pem.js';

/** A file HAProxy reads at start-up; written by the caller, mode 0600, into the engine's private dir. */
export interface HaproxyFile {
  name: string;
  content: string;
}

/** The frontend rules of one authenticated route and the key files they reference. */
export interface JwtRules {
  rules: string[];
  files: HaproxyFile[];
}

/**
 * `aud` may be an array; HAProxy's JSON path has no "contains", so this many items are looked at
 * (one rule holds them all, and HAProxy reads at most 64 words of a config line).
 */
export const MAX_AUDIENCE_ITEMS = 6;
/** `bin(<hex>)` must fit half of HAProxy's 16 KiB `tune.bufsize`; far more than HMAC needs. */
export const MAX_SECRET_BYTES = 4096;
/** Characters a key folder may hold: HAProxy's argument parser gives `,()'"\$#` meanings. */
const SAFE_DIR = /^\/[A-Za-z0-9 ._/+@:~-]*$/;
const CHALLENGE = `hdr www-authenticate 'Bearer error="invalid_token"'`;
const NOT_VERIFIED = '!{ var(txn.jwt_ok) -m found }';

/**
 * The `http-request` lines that authenticate route `routeIndex` and the PEM files of its JWKS keys,
 * referenced as `<dir>/<name>`. Only the first line compares `txn.route` with the route (a string
 * compare, ~150 ns in HAProxy 2.6); it sets `txn.jwt_route<N>`, and every later line is guarded by
 * that variable existing, which costs a request of another route ~30 ns a line.
 * The HS256 secret appears in the rules as hex inside `bin(…)` (any byte except 0 survives that
 * way): never log the rules.
 * A refused request gets `401`, `www-authenticate: Bearer error="invalid_token"` and the JSON body
 * the built-in engine answers: `{"error":"authenticate: <reason>"}`.
 *
 * @example
 * const { rules, files } = jwtRules(2, { jwks, issuer: 'https://id.example' }, '/srv/.cairn/haproxy');
 * // write files into the folder (0600), put rules into the frontend after txn.route is set
 */
export function jwtRules(routeIndex: number, auth: RouteAuth, dir: string): JwtRules {
  const folder = checkDir(routeIndex, dir);
  const keys = auth.jwks ? pemKeys(routeIndex, auth.jwks.keys) : [];
  if (auth.secret) checkSecret(routeIndex, auth.secret);
  if (keys.length === 0 && !auth.secret)
    throw new ValidationError(`configure auth of route ${routeIndex}: no RS256/ES256 key and no secret`, [], {
      hint: 'give auth.jwks a JWKS with RSA or P-256 signing keys, or auth.secret for HS256',
    });
  const route = `{ var(txn.jwt_route${routeIndex}) -m found }`;
  const files = keys.map((k, i) => ({ name: `route-${routeIndex}-key-${i}.pem`, content: k.pem }));
  const algs = [...new Set<string>(keys.map((k) => k.alg)), ...(auth.secret ? ['HS256'] : [])];
  const rules = [
    `http-request set-var(txn.jwt_route${routeIndex}) bool(1) if { var(txn.route) -m int ${routeIndex} }`,
    ...tokenRules(route, algs, keys.length > 0),
    ...keys.map((k, i) => keyRule(route, k, `${folder}/${files[i]!.name}`)),
    ...(auth.secret ? secretRules(route, auth.secret) : []),
    refuse(route, 'invalid signature', NOT_VERIFIED),
    ...timeRules(route),
    ...claimRules(route, auth),
  ];
  return { rules, files };
}

/** Reads the token and its header; refuses what has no token or an algorithm without a key. */
function tokenRules(route: string, algs: string[], hasKeys: boolean): string[] {
  const header = (path: string) => `var(txn.jwt),jwt_header_query('${path}')`;
  return [
    `http-request set-var(txn.jwt) http_auth_bearer if ${route}`,
    refuse(route, 'missing bearer token', '!{ var(txn.jwt) -m found }'),
    `http-request set-var(txn.jwt_alg) ${header('$.alg')} if ${route}`,
    refuse(route, 'malformed token', '!{ var(txn.jwt_alg) -m found }'),
    refuse(route, 'algorithm not accepted', `!{ var(txn.jwt_alg) -m str ${algs.join(' ')} }`),
    // RFC 7515 4.1.11: a header extension the verifier does not understand must be refused
    refuse(
      route,
      'unsupported critical header',
      `{ ${header('$.crit')} -m found } or ${route} { ${header('$.crit[0]')} -m found }`,
    ),
    ...(hasKeys ? [`http-request set-var(txn.jwt_kid) ${header('$.kid')},hex if ${route}`] : []),
  ];
}

/**
 * Marks the token verified when this key's signature checks. A token with a `kid` is tried only
 * against the key of that `kid`; a token without one against every key of its algorithm.
 * The algorithm passed to `jwt_verify` is the key's, never the token's.
 */
function keyRule(route: string, key: PemKey, path: string): string {
  const common = `${route} ${NOT_VERIFIED} { var(txn.jwt_alg) -m str ${key.alg} }`;
  const verify = `{ var(txn.jwt),jwt_verify(${key.alg},'${path}') -m int 1 }`;
  const noKid = `${common} !{ var(txn.jwt_kid) -m found } ${verify}`;
  const kidCondition = key.kid
    ? `${common} { var(txn.jwt_kid) -m str ${hex(key.kid)} } ${verify} or ${noKid}`
    : noKid;
  return `http-request set-var(txn.jwt_ok) bool(1) if ${kidCondition}`;
}

/** The secret goes through a variable: a literal key argument would need quoting and escaping. */
function secretRules(route: string, secret: Uint8Array): string[] {
  const hs256 = `${route} ${NOT_VERIFIED} { var(txn.jwt_alg) -m str HS256 }`;
  return [
    `http-request set-var(txn.jwt_key) bin(${Buffer.from(secret).toString('hex')}) if ${hs256}`,
    `http-request set-var(txn.jwt_ok) bool(1) if ${hs256} { var(txn.jwt),jwt_verify(HS256,txn.jwt_key) -m int 1 }`,
    `http-request unset-var(txn.jwt_key) if ${route}`,
  ];
}

/**
 * `exp` and `nbf` against the clock in whole seconds, without leeway (as `jose` by default).
 * HAProxy's `'int'` output keeps a JSON string as a string, so a claim that is not digits
 * (`"tomorrow"`) is refused here rather than read as 0; a string of digits counts as a number.
 */
function timeRules(route: string): string[] {
  const read = (name: string) =>
    `http-request set-var(txn.jwt_${name}) var(txn.jwt),jwt_payload_query('$.${name}','int') if ${route}`;
  const malformed = (name: string) =>
    refuse(
      route,
      `invalid ${name} claim`,
      `{ var(txn.jwt_${name}) -m found } !{ var(txn.jwt_${name}) -m reg ^-?[0-9]+$ }`,
    );
  return [
    `http-request set-var(txn.jwt_now) date() if ${route}`,
    read('exp'),
    malformed('exp'),
    refuse(route, 'token expired', '{ var(txn.jwt_exp),sub(txn.jwt_now) -m int le 0 }'),
    read('nbf'),
    malformed('nbf'),
    refuse(route, 'token not yet valid', '{ var(txn.jwt_nbf),sub(txn.jwt_now) -m int gt 0 }'),
  ];
}

/** `iss` must equal the issuer; `aud` must be, or (as an array) hold, the audience. */
function claimRules(route: string, auth: RouteAuth): string[] {
  const equals = (path: string, value: string) =>
    `{ var(txn.jwt),jwt_payload_query('${path}'),hex -m str ${hex(value)} }`;
  const rules: string[] = [];
  if (auth.issuer) rules.push(refuse(route, 'wrong issuer', `!${equals('$.iss', auth.issuer)}`));
  if (auth.audience) {
    const paths = ['$.aud', ...Array.from({ length: MAX_AUDIENCE_ITEMS }, (_, i) => `$.aud[${i}]`)];
    const audience = auth.audience;
    rules.push(refuse(route, 'wrong audience', paths.map((p) => `!${equals(p, audience)}`).join(' ')));
  }
  return rules;
}

/** Claims and kids are compared as upper-case hex (HAProxy's `hex`), so no value needs quoting. */
function hex(value: string): string {
  return Buffer.from(value, 'utf8').toString('hex').toUpperCase();
}

function refuse(route: string, reason: string, condition: string): string {
  return (
    `http-request return status 401 content-type application/json string "{\\"error\\":\\"authenticate: ${reason}\\"}\\n" ` +
    `${CHALLENGE} if ${route} ${condition}`
  );
}

function checkDir(routeIndex: number, dir: string): string {
  const folder = dir.replace(/\/+$/, '');
  if (!SAFE_DIR.test(folder))
    throw new ValidationError(
      `configure auth of route ${routeIndex}: key folder ${JSON.stringify(dir)} cannot be named in haproxy.cfg`,
      [],
      {
        hint: 'use an absolute folder whose path holds only letters, digits, spaces and . _ / + @ : ~ -',
      },
    );
  return folder;
}

/** HAProxy cuts the HMAC key at the first zero byte, which would silently weaken the secret. */
function checkSecret(routeIndex: number, secret: Uint8Array): void {
  if (secret.length > MAX_SECRET_BYTES)
    throw new ValidationError(
      `configure auth of route ${routeIndex}: the HS256 secret has ${secret.length} bytes, more than haproxy.cfg can hold (${MAX_SECRET_BYTES})`,
      [],
      { hint: 'use a shorter secret: 32 to 64 random bytes are what HS256 needs' },
    );
  if (secret.length === 0 || secret.includes(0))
    throw new ValidationError(
      `configure auth of route ${routeIndex}: the HS256 secret ${secret.length === 0 ? 'is empty' : 'holds a zero byte, where haproxy 2.6 would cut the key short'}`,
      [],
      {
        hint: 'use a secret without zero bytes (e.g. 32 random bytes, base64-encoded), or the built-in gateway engine',
      },
    );
}
