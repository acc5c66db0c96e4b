/**
 * Builds the expected identity an instance record stores when the instance starts: image digest,
 * files digest and bundle root hash, the entrypoint and the file that runs it, the runtime config
 * the driver generated (field digests), a keyed hash of each injected secret and the content digest
 * of each configuration file (not secret: a plain sha256). Values of secrets
 * and env variables never enter it.
 */
import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IntegrityError, sha256Digest } from '../lib/index.js';
import type { Bundle, FileEntry } from '../runtime/index.js';
import { resolveCommand, resolveInterpreter, settleExecutable, shebangOf } from './executable.js';
import { identityKeyPath, loadOrCreateIdentityKey } from './identity-key.js';
import { bundleRootHash } from './merkle-root.js';
import { runtimeConfigIdentity } from './runtime-config-hash.js';
import { keyedDigest, secretDigests } from './secret-hash.js';

const FILES_FILE = 'files.json';
/** Enough of a file to read its `#!` line. */
const SHEBANG_BYTES = 256;

/** What an instance is started from, as the instance manager knows it before the start. */
export interface IdentityInput {
  imageDigest: string;
  bundle: Bundle;
  /** The secret values injected (name → value); only their keyed hashes are kept. */
  secrets: Record<string, string | Uint8Array>;
  /** The release's configuration files: path in the instance → `sha256:` of the content mounted. */
  configFiles?: Record<string, string>;
}

/**
 * The identity to store in the instance record (JSON-serialisable; read back by `expectedIdentity`),
 * built before the instance starts: a bundle whose files.json no longer has its sealed digest is
 * refused here, so it never runs. `addRuntimeConfig` completes it once the driver wrote its config.
 *
 * @example
 * const identity = await recordIdentity({ imageDigest, bundle, secrets });
 * const handle = await driver.start(spec);
 * record.identity = await addRuntimeConfig(identity, bundle, handle.configFile);
 */
export async function recordIdentity(input: IdentityInput): Promise<Record<string, unknown>> {
  const { bundle } = input;
  const key = await loadOrCreateIdentityKey(keyFileOf(bundle));
  const manifest = await readManifest(bundle);
  const executable = await expectedExecutable(bundle, manifest);
  return {
    imageDigest: input.imageDigest,
    filesDigest: bundle.filesDigest,
    bundleRoot: bundleRootHash(manifest),
    entrypoint: bundle.process.args,
    ...(executable ? { executable } : {}),
    secrets: secretDigests(key, input.secrets),
    ...(input.configFiles ? { configFiles: input.configFiles } : {}),
  };
}

/**
 * Adds the field digests of the OCI runtime config the driver generated (runc's config.json; env
 * values keyed). Without a config file (bwrap, process) the identity is returned as it was.
 */
export async function addRuntimeConfig(
  identity: Record<string, unknown>,
  bundle: Bundle,
  configFile: string | undefined,
): Promise<Record<string, unknown>> {
  if (!configFile) return identity;
  const key = await loadOrCreateIdentityKey(keyFileOf(bundle));
  const config = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
  return { ...identity, runtimeConfig: runtimeConfigIdentity(config, (v) => keyedDigest(key, v)) };
}

/** The workspace key sits beside the bundles folder (`.cairn/keys`). */
const keyFileOf = (bundle: Bundle): string => identityKeyPath(dirname(bundle.dir));

/** files.json, only while it still has the digest the bundle was sealed with. */
async function readManifest(bundle: Bundle): Promise<FileEntry[]> {
  const bytes = await readFile(join(bundle.dir, FILES_FILE));
  if (sha256Digest(bytes) !== bundle.filesDigest) {
    throw new IntegrityError(
      `recording the identity of ${bundle.imageDigest}: ${FILES_FILE} no longer has digest ${bundle.filesDigest}`,
      { hint: 'the bundle was altered: remove its folder under .cairn/bundles so it is unpacked again' },
    );
  }
  return JSON.parse(bytes.toString('utf8')) as FileEntry[];
}

/** The file the init process runs: the entrypoint's program, a script's interpreter, what `env` runs. */
async function expectedExecutable(bundle: Bundle, manifest: FileEntry[]): Promise<string | undefined> {
  const request = bundle.process;
  const command = resolveCommand(manifest, request);
  if (!command) return undefined;
  const shebang = shebangOf(await firstBytes(join(bundle.rootfs, command)));
  if (!shebang) return settleExecutable(manifest, command, request.args.slice(1), request);
  const interpreter = resolveInterpreter(manifest, shebang.interpreter);
  if (!interpreter) return undefined;
  const rest = [...(shebang.arg ? [shebang.arg] : []), command, ...request.args.slice(1)];
  return settleExecutable(manifest, interpreter, rest, request);
}

async function firstBytes(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(SHEBANG_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SHEBANG_BYTES, 0);
    return buffer.subarray(0, bytesRead).toString('latin1');
  } finally {
    await handle.close();
  }
}
