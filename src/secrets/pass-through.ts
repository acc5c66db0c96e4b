/**
 * Resolvers that hand out what another system already holds, without versions: `env` reads
 * `CAIRN_SECRET_<NAME>` from the control plane's environment (CI), `file` reads `DIR/<NAME>` (a
 * tmpfs a Kubernetes Secret or a vault agent mounts). Their single version is what they hold now;
 * the pin's keyed hash tells whether that is still what a release pinned.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretResolver, SecretVersion } from './types.js';

export const ENV_PREFIX = 'CAIRN_SECRET_';
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** `CAIRN_SECRET_<NAME>` of `env` (default: this process's environment). */
export function createEnvResolver(env: NodeJS.ProcessEnv = process.env): SecretResolver {
  const current = (name: string): SecretVersion | undefined => {
    const value = env[`${ENV_PREFIX}${name}`];
    return value === undefined ? undefined : { name, version: 'env', value: Buffer.from(value) };
  };
  return { kind: 'env', current, read: (name, version) => (version === 'env' ? current(name) : undefined) };
}

/** One file per secret in `dir`, named after the secret. */
export function createFileResolver(dir: string): SecretResolver {
  const current = (name: string): SecretVersion | undefined => {
    const file = join(dir, name);
    if (!NAME.test(name) || !existsSync(file)) return undefined;
    return { name, version: 'file', value: readFileSync(file) };
  };
  return { kind: 'file', current, read: (name, version) => (version === 'file' ? current(name) : undefined) };
}

/** The first resolver that holds a secret answers for it; versions say which one that was. */
export function chainResolvers(resolvers: SecretResolver[]): SecretResolver {
  const first = <T>(ask: (r: SecretResolver) => T | undefined): T | undefined => {
    for (const r of resolvers) {
      const found = ask(r);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return {
    kind: resolvers.map((r) => r.kind).join(','),
    current: (name) => first((r) => r.current(name)),
    read: (name, version) => first((r) => r.read(name, version)),
  };
}
