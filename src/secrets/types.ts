/** The shapes the secret store, its resolvers and the releases that pin them share. */

/** One version of one secret, as a resolver hands it out. */
export interface SecretVersion {
  name: string;
  /** Opaque to callers: `v3` for the local store, `env` or `file` for the pass-through resolvers. */
  version: string;
  value: Buffer;
}

/**
 * Where secret values come from. A release pins `current()` at deploy; every instance start of that
 * release reads the pinned version back with `read()`, so a rotation reaches an instance only
 * through a new release. A resolver without versions (env, file) answers `read` with what it holds
 * now; the pin's keyed hash then tells whether that is still the pinned value.
 */
export interface SecretResolver {
  readonly kind: string;
  /** The version a new release pins, or undefined when this resolver has no such secret. */
  current(name: string): SecretVersion | undefined;
  /** One version, or undefined when this resolver does not hold it. */
  read(name: string, version: string): SecretVersion | undefined;
}

/** How a service asks for a secret in `run.secrets`: as a file, an env variable, or both. */
export interface SecretRef {
  name: string;
  /** Environment variable that carries the value. */
  env?: string;
  /** File name under /run/secrets (default: the secret's name when `env` is not given). */
  file?: string;
}

/** What a release records about one secret: the reference, the version and its keyed hash. */
export interface SecretPin extends SecretRef {
  version: string;
  /** `hmac-sha256:…` of the value with the workspace's identity key; never the value. */
  digest: string;
}

/** Hashes a value with the workspace's identity key. */
export type KeyedHash = (value: Uint8Array) => string;

/** What an instance is given: file name → value (under /run/secrets) and env variable → value. */
export interface Injection {
  files: Record<string, Buffer>;
  env: Record<string, string>;
}
