/** Secrets: an encrypted local store, pluggable resolvers, and the pins and injection of a release. */

export type { SecretSummary, Written } from './local-store.js';
export { LocalSecretStore, MAX_SECRET_BYTES, SECRETS_DB_FILE } from './local-store.js';
export { chainResolvers, createEnvResolver, createFileResolver, ENV_PREFIX } from './pass-through.js';
export { injectionFor, isPin, normalizeRef, pinSecrets, SECRETS_MOUNT } from './pins.js';
export { DEFAULT_RESOLVERS, openLocalStore, openSecretResolver } from './resolver.js';
export type { Sealed } from './secret-box.js';
export { openSecret, STORE_KEY_BYTES, sealSecret, storeKeyId } from './secret-box.js';
export { readStoreKey, STORE_KEY_FILE, storeKeyPath } from './store-key.js';
export type { Injection, KeyedHash, SecretPin, SecretRef, SecretResolver, SecretVersion } from './types.js';
