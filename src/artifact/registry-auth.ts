/** Registry authentication: answers a 401 challenge with basic credentials or a bearer token. */
import { CairnError } from '../lib/index.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses a `WWW-Authenticate` header (`Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!.toLowerCase()] = p[2]!;
  return { scheme, params };
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** Credentials from `CAIRN_REGISTRY_USERNAME` / `CAIRN_REGISTRY_PASSWORD`, when both are set. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): Credentials | undefined {
  const username = env.CAIRN_REGISTRY_USERNAME;
  const password = env.CAIRN_REGISTRY_PASSWORD;
  return username && password ? { username, password } : undefined;
}

/** Turns a challenge into an Authorization header value, fetching a token for bearer challenges. */
export async function authorize(
  challenge: Challenge,
  credentials: Credentials | undefined,
  action: string,
): Promise<string> {
  if (challenge.scheme === 'basic') {
    if (!credentials) throw authError(action, 'the registry wants a user name and password');
    return basicHeader(credentials);
  }
  const realm = challenge.params.realm;
  if (!realm) throw authError(action, 'the registry sent a bearer challenge without a realm');
  const url = new URL(realm);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  if (challenge.params.scope) url.searchParams.set('scope', challenge.params.scope);
  const res = await fetch(url, { headers: credentials ? { authorization: basicHeader(credentials) } : {} });
  if (!res.ok) throw authError(action, `the token service answered ${res.status}`);
  const body = (await res.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw authError(action, 'the token service answered without a token');
  return `Bearer ${token}`;
}

function authError(action: string, why: string): CairnError {
  return new CairnError('unauthorized', `${action}: ${why}`, {
    hint: 'set CAIRN_REGISTRY_USERNAME and CAIRN_REGISTRY_PASSWORD for this registry',
  });
}
