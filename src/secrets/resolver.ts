/**
 * Which resolvers a workspace uses, in order: `CAIRN_SECRETS` (comma-separated `local`, `env`,
 * `file:DIR`), by default `local,env` — the encrypted store first, then `CAIRN_SECRET_<NAME>` in the
 * control plane's environment.
 */
import { join, resolve } from 'node:path';
import { ValidationError } from '../lib/index.js';
import { LocalSecretStore, SECRETS_DB_FILE } from './local-store.js';
import { chainResolvers, createEnvResolver, createFileResolver } from './pass-through.js';
import { storeKeyPath } from './store-key.js';
import type { SecretResolver } from './types.js';

export const DEFAULT_RESOLVERS = 'local,env';

/** The local store of a workspace (`.cairn/secrets.db`, key in `.cairn/keys/secrets.key`). */
export function openLocalStore(ws: { root: string; keys: string }, create = false): LocalSecretStore {
  return LocalSecretStore.open({
    dbFile: join(ws.root, SECRETS_DB_FILE),
    keyFile: storeKeyPath(ws.keys),
    create,
  });
}

/** The resolver chain `CAIRN_SECRETS` names; an unknown entry is a clear error. */
export function openSecretResolver(
  ws: { root: string; keys: string },
  env: NodeJS.ProcessEnv = process.env,
): SecretResolver {
  const names = (env.CAIRN_SECRETS ?? DEFAULT_RESOLVERS)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return chainResolvers(
    names.map((entry) => {
      if (entry === 'local') return openLocalStore(ws);
      if (entry === 'env') return createEnvResolver(env);
      if (entry.startsWith('file:') && entry.length > 5) return createFileResolver(resolve(entry.slice(5)));
      throw new ValidationError(`reading CAIRN_SECRETS: "${entry}" is not a secret resolver`, [], {
        hint: 'use a comma-separated list of local, env and file:DIR, e.g. CAIRN_SECRETS=local,env',
      });
    }),
  );
}
