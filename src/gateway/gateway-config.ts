/**
 * From cairn.yaml to a `GatewayConfig`: the environment's listener and pin setting, and routes
 * with their JWT keys loaded (JWKS files read, HS256 secrets resolved by reference).
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { CairnError, NotFoundError, ValidationError } from '../lib/index.js';
import { readContainedFile } from '../spec/index.js';
import type { LoadedSpec, RouteSpec } from '../spec/types.js';
import type { GatewayConfig, GatewayRoute, RouteAuth } from './types.js';

/** Returns the value of a secret by name (the secret store's resolver). */
export type SecretResolver = (name: string) => Promise<Uint8Array | string> | Uint8Array | string;

/** The largest JWKS file read; a real one holds a few keys in a few KiB. */
const MAX_JWKS_BYTES = 256 * 1024;

function readJwks(root: string, file: string, where: string): RouteAuth['jwks'] {
  let text: string;
  try {
    text = readContainedFile(root, file, { shownAs: file, maxBytes: MAX_JWKS_BYTES }).toString('utf8');
  } catch (cause) {
    const why =
      cause instanceof CairnError ? cause.message.replace(/^reading [^:]*: /, '') : 'cannot read it';
    throw new NotFoundError(`read JWKS file ${file} for ${where}: ${why}`, {
      cause,
      hint: 'check auth.jwks; the path is relative to cairn.yaml and stays inside the project folder',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ValidationError(`read JWKS file ${file} for ${where}: not JSON`, [], { cause });
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new ValidationError(`read JWKS file ${file} for ${where}: no "keys" array`, [], {
      hint: 'a JWKS file looks like {"keys": [{"kty": "EC", …}]} and holds public keys only',
    });
  if (keys.some((k) => typeof k === 'object' && k !== null && 'd' in k))
    throw new ValidationError(`read JWKS file ${file} for ${where}: it contains a private key`, [], {
      hint: 'publish only public keys in the JWKS file; keep private keys with the token issuer',
    });
  return { keys: keys as Record<string, unknown>[] };
}

async function loadAuth(
  auth: NonNullable<RouteSpec['auth']>,
  dirs: Required<SpecDirs>,
  where: string,
  resolveSecret: SecretResolver | undefined,
): Promise<RouteAuth> {
  const loaded: RouteAuth = { issuer: auth.issuer, audience: auth.audience };
  if (auth.jwks) loaded.jwks = readJwks(dirs.root, resolve(dirs.dir, auth.jwks), where);
  if (auth.secret) {
    if (!resolveSecret)
      throw new ValidationError(`load auth for ${where}: secret ${auth.secret} cannot be resolved here`, [], {
        hint: 'start the gateway from `cairn up`, which reads secrets from the secret store',
      });
    const value = await resolveSecret(auth.secret);
    loaded.secret = typeof value === 'string' ? new TextEncoder().encode(value) : value;
  }
  if (!loaded.jwks && !loaded.secret)
    throw new ValidationError(`load auth for ${where}: neither jwks nor secret is set`, [], {
      hint: 'give auth.jwks (a JWKS file) for RS256/ES256 or auth.secret (a secret name) for HS256',
    });
  return loaded;
}

/** The folder of cairn.yaml and the project folder files must stay in (default: the same). */
export type SpecDirs = { dir: string; root?: string };

/** Routes of a spec with their auth keys loaded; `specDir` is the folder of cairn.yaml (or both folders). */
export async function loadGatewayRoutes(
  routes: RouteSpec[],
  specDir: string | SpecDirs,
  resolveSecret?: SecretResolver,
): Promise<GatewayRoute[]> {
  const dirs = typeof specDir === 'string' ? { dir: specDir } : specDir;
  const root = dirs.root ?? realpathSync(dirs.dir);
  return Promise.all(
    routes.map(async (route, i) => {
      const { auth, ...rest } = route;
      if (!auth) return rest;
      const where = `routes[${i}] (${route.host ?? '*'}${route.path ?? '/'})`;
      return { ...rest, auth: await loadAuth(auth, { dir: dirs.dir, root }, where, resolveSecret) };
    }),
  );
}

/** The gateway config of one environment of a loaded spec. */
export async function gatewayConfigFor(
  loaded: LoadedSpec,
  environment: string,
  options: Omit<GatewayConfig, 'listen' | 'routes' | 'pinHeader' | 'engine'> & {
    resolveSecret?: SecretResolver;
  } = {},
): Promise<GatewayConfig> {
  const env = loaded.spec.environments[environment];
  if (!env)
    throw new NotFoundError(`configure gateway: environment ${environment} is not in ${loaded.file}`, {
      hint: `use one of: ${Object.keys(loaded.spec.environments).join(', ')}`,
    });
  const { resolveSecret, ...rest } = options;
  const routes = await loadGatewayRoutes(loaded.spec.routes, loaded, resolveSecret);
  const cap = env.gateway.maxConnectionsPerClient;
  return {
    ...rest,
    ...(cap !== undefined && { limits: { ...rest.limits, maxConnectionsPerClient: cap } }),
    engine: env.gateway.engine,
    listen: env.gateway.listen,
    pinHeader: env.gateway.pinHeader,
    routes,
  };
}
