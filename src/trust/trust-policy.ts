/**
 * The trust policy of an environment: `environments.<env>.trust.keys` names the public keys one of
 * which must have signed an image (and its attestations) before it may run there.
 */
import { resolve } from 'node:path';
import type { ImageStore } from '../artifact/index.js';
import { NotFoundError } from '../lib/index.js';
import { type LoadedSpec, readContainedFile } from '../spec/index.js';
import { type PublicKeyInfo, parsePublicKey } from './key-pair.js';
import { type VerifyReport, verifyImage } from './verify-image.js';

/** The public keys an environment trusts, read from the files the spec names (relative to it). */
export function trustedKeysFor(loaded: LoadedSpec, env: string): PublicKeyInfo[] {
  const environment = loaded.spec.environments[env];
  if (!environment) {
    throw new NotFoundError(`reading the trust policy of ${env}: no such environment in ${loaded.file}`, {
      hint: `environments are: ${Object.keys(loaded.spec.environments).join(', ')}`,
    });
  }
  // A trusted key is read only from inside the project folder: a spec cannot trust a host file.
  return environment.trust.keys.map((file) => {
    const path = resolve(loaded.dir, file);
    return parsePublicKey(readContainedFile(loaded.root, path, { shownAs: file }).toString('utf8'), path);
  });
}

export interface EnvironmentVerdict extends VerifyReport {
  environment: string;
  /** False when the environment names no keys: signatures are then not required there. */
  enforced: boolean;
}

/**
 * Checks an image against an environment's trust policy. With no trusted keys configured the
 * policy is not enforced (verified, `enforced: false`); otherwise every `verifyImage` check must pass.
 */
export async function verifyForEnvironment(
  store: ImageStore,
  digest: string,
  loaded: LoadedSpec,
  env: string,
): Promise<EnvironmentVerdict> {
  const keys = trustedKeysFor(loaded, env);
  if (keys.length === 0) {
    const detail = `environment ${env} names no trusted keys (environments.${env}.trust.keys); signatures are not required`;
    return {
      verified: true,
      enforced: false,
      environment: env,
      image: digest,
      checks: [{ name: 'trust-policy', ok: true, detail }],
    };
  }
  const report = await verifyImage(store, digest, keys);
  return { ...report, enforced: true, environment: env };
}
