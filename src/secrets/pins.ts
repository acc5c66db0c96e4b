/**
 * Pinning and injecting: a release records, for each secret its service asks for, the version the
 * resolver holds at deploy and that value's keyed hash; an instance start reads exactly that
 * version back and checks the hash before anything is written. Pure (the resolver is handed in).
 */
import { CairnError, NotFoundError } from '../lib/index.js';
import type { Injection, KeyedHash, SecretPin, SecretRef, SecretResolver } from './types.js';

/** Where secret files are in an instance (also in `CAIRN_SECRETS_DIR`). */
export const SECRETS_MOUNT = '/run/secrets';

/** A bare name in `run.secrets` is a file named after the secret. */
export function normalizeRef(ref: SecretRef | string): SecretRef {
  if (typeof ref === 'string') return { name: ref, file: ref };
  return ref.env === undefined && ref.file === undefined ? { ...ref, file: ref.name } : ref;
}

/**
 * The pins of a new release; every secret missing from the resolver is named in one error.
 *
 * @example
 * pinSecrets('api', [{ name: 'DB_PASSWORD', env: 'PGPASSWORD' }], resolver, keyed)
 * // [{ name: 'DB_PASSWORD', env: 'PGPASSWORD', version: 'v2', digest: 'hmac-sha256:…' }]
 */
export function pinSecrets(
  service: string,
  refs: Array<SecretRef | string>,
  resolver: SecretResolver,
  keyed: KeyedHash,
): SecretPin[] {
  const pins: SecretPin[] = [];
  const missing: string[] = [];
  for (const ref of refs.map(normalizeRef)) {
    const found = resolver.current(ref.name);
    if (!found) missing.push(ref.name);
    else pins.push({ ...ref, version: found.version, digest: keyed(found.value) });
  }
  if (missing.length > 0) {
    throw new NotFoundError(
      `deploying ${service}: secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'have' : 'has'} no value`,
      {
        hint: `store ${missing.length > 1 ? 'each' : 'it'} with \`cairn secret set ${missing[0]}\` (the value on stdin), then deploy again`,
      },
    );
  }
  return pins;
}

/** Whether `run.secrets` of a release holds pins (releases made before the store held names only). */
export function isPin(value: unknown): value is SecretPin {
  const v = value as SecretPin;
  return typeof v === 'object' && v !== null && typeof v.version === 'string' && typeof v.digest === 'string';
}

/** The values an instance of `release` gets, each checked against its pin; nothing when one fails. */
export function injectionFor(
  release: string,
  pins: SecretPin[],
  resolver: SecretResolver,
  keyed: KeyedHash,
): Injection {
  const out: Injection = { files: {}, env: {} };
  for (const pin of pins) {
    const found = resolver.read(pin.name, pin.version);
    if (!found) {
      throw new NotFoundError(
        `starting ${release}: secret ${pin.name} ${pin.version} is gone from the store`,
        {
          hint: `deploy again to pin the current version (\`cairn secret list\` shows it)`,
        },
      );
    }
    if (keyed(found.value) !== pin.digest) {
      throw new CairnError(
        'secret_changed',
        `starting ${release}: secret ${pin.name} is not the value the release pinned`,
        {
          hint: 'it changed outside cairn; deploy again so the change becomes a release you can see and roll back',
        },
      );
    }
    if (pin.file) out.files[pin.file] = found.value;
    if (pin.env) out.env[pin.env] = found.value.toString('utf8');
  }
  return out;
}
