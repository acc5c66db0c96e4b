/**
 * The signature gate: where an environment requires a signature (`requireSignature`, on by
 * default when `trust.keys` names keys), every `verifyImage` check must pass for one of its keys.
 */
import type { ImageStore } from '../artifact/index.js';
import type { LoadedSpec } from '../spec/index.js';
import { trustedKeysFor, verifyImage } from '../trust/index.js';
import type { GateFailure } from './types.js';

/** The failed checks (empty when it passes); undefined when the environment does not ask. */
export async function signatureFailures(
  images: ImageStore,
  loaded: LoadedSpec,
  env: string,
  digest: string,
): Promise<GateFailure[] | undefined> {
  const keys = trustedKeysFor(loaded, env);
  const required = loaded.spec.environments[env]!.requireSignature ?? keys.length > 0;
  if (!required) return undefined;
  if (keys.length === 0) {
    return [
      {
        gate: 'signature',
        rule: 'trust.keys',
        message: `${env} requires a signature but trusts no key`,
        field: `environments.${env}.trust.keys`,
      },
    ];
  }
  const report = await verifyImage(images, digest, keys);
  return report.checks
    .filter((c) => !c.ok)
    .map((c) => ({ gate: 'signature' as const, rule: c.name, message: c.detail }));
}
