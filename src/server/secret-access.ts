/**
 * The control plane's door to secrets: pins the versions a new release gets, hands an instance
 * start the pinned values, and gives the gateway its keys. Keyed hashes use the workspace's
 * identity key, so a pin, an instance record and `cairn drift` hash a value the same way.
 */
import { identityKeyPath, keyedDigest, loadOrCreateIdentityKey } from '../drift/index.js';
import { CairnError } from '../lib/index.js';
import {
  type Injection,
  injectionFor,
  isPin,
  type KeyedHash,
  normalizeRef,
  pinSecrets,
  type SecretPin,
  type SecretRef,
  type SecretResolver,
} from '../secrets/index.js';
import type { ReleaseRecord } from '../state/index.js';

export interface SecretAccess {
  /** The pins of a new release of `service`; throws naming every secret without a value. */
  pin(service: string, refs: Array<SecretRef | string>): Promise<SecretPin[]>;
  /** The values an instance of `release` gets, checked against its pins. */
  inject(release: ReleaseRecord): Promise<Injection>;
  /** Each pinned version of `release` with its value (a Kubernetes Secret per version). */
  pinned(release: ReleaseRecord): Promise<Array<SecretPin & { value: Buffer }>>;
  /** A secret's current value (the gateway's HS256 key); throws when it has none. */
  value(name: string): string;
}

export function createSecretAccess(resolver: SecretResolver, bundlesDir: string): SecretAccess {
  let keyed: Promise<KeyedHash> | undefined;
  const hash = () => {
    keyed ??= loadOrCreateIdentityKey(identityKeyPath(bundlesDir)).then(
      (key) => (v: Uint8Array) => keyedDigest(key, v),
    );
    return keyed;
  };
  return {
    pin: async (service, refs) =>
      refs.length === 0 ? [] : pinSecrets(service, refs, resolver, await hash()),
    async inject(release) {
      const refs = ((release.config.run as { secrets?: unknown[] } | undefined)?.secrets ?? []) as unknown[];
      if (refs.length === 0) return { files: {}, env: {} };
      // Releases made before pins existed name secrets only: they get what the resolver holds now.
      const pins = refs.every(isPin)
        ? refs
        : await pinSecrets(
            release.service,
            refs.map((r) => normalizeRef(r as SecretRef | string)),
            resolver,
            await hash(),
          );
      return injectionFor(release.id, pins, resolver, await hash());
    },
    async pinned(release) {
      const refs = ((release.config.run as { secrets?: unknown[] } | undefined)?.secrets ?? []) as unknown[];
      const pins = refs.filter(isPin);
      const keyedHash = await hash();
      return pins.map((pin) => {
        const got = injectionFor(release.id, [pin], resolver, keyedHash);
        const value = pin.file ? got.files[pin.file]! : Buffer.from(got.env[pin.env!]!, 'utf8');
        return { ...pin, value };
      });
    },
    value(name) {
      const found = resolver.current(name);
      if (!found) {
        throw new CairnError('missing_secret', `resolving secret ${name}: it has no value`, {
          hint: `store it with \`cairn secret set ${name}\` (the value on stdin)`,
        });
      }
      return found.value.toString('utf8');
    },
  };
}
