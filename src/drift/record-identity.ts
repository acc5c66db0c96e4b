/**
 * Builds the expected identity an instance record stores when the instance starts: image digest,
 * files digest and bundle root hash, the entrypoint and the file that runs it, the runtime config
 * the driver generated (field digests) and a keyed hash of each injected secret. Values of secrets
 * and env variables never enter it.
 */
import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IntegrityError, sha256Digest } from '../lib/index.js';
import type { Bundle, FileEntry } from '../runtime/index.js';
import { interpreterOf, resolveCommand, resolveInterpreter } from './executable.js';
import { identityKeyPath, loadOrCreateIdentityKey } from './identity-key.js';
import { bundleRootHash } from './merkle-root.js';
import { runtimeConfigIdentity } from './runtime-config-hash.js';
import { keyedDigest, secretDigests } from './secret-hash.js';

const FILES_FILE = 'files.json';
/** Enough of a file to read its `#!` line. */
const SHEBANG_BYTES = 256;

/** What an instance was started from, as the instance manager knows it right after the start. */
export interface IdentityInput {
  imageDigest: string;
  bundle: Bundle;
  /** The OCI runtime config the driver wrote for this instance (runc); absent for other drivers. */
  configFile?: string | undefined;
  /** The secret values injected (name → value); only their keyed hashes are kept. */
  secrets: Record<string, string>;
}

/**
 * The identity to store in the instance record (JSON-serialisable; read back by `expectedIdentity`).
 *
 * @example
 * record.identity = await recordIdentity({ imageDigest, bundle, configFile: handle.configFile, secrets });
 */
export async function recordIdentity(input: IdentityInput): Promise<Record<string, unknown>> {
  const { bundle } = input;
  const key = await loadOrCreateIdentityKey(identityKeyPath(dirname(bundle.dir)));
  const manifest = await readManifest(bundle);
  const executable = await expectedExecutable(bundle, manifest);
  const config = input.configFile ? await readConfig(input.configFile) : undefined;
  return {
    imageDigest: input.imageDigest,
    filesDigest: bundle.filesDigest,
    bundleRoot: bundleRootHash(manifest),
    entrypoint: bundle.process.args,
    ...(executable ? { executable } : {}),
    ...(config ? { runtimeConfig: runtimeConfigIdentity(config, (v) => keyedDigest(key, v)) } : {}),
    secrets: secretDigests(key, input.secrets),
  };
}

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

/** The file the kernel will run: the entrypoint's program, or its `#!` interpreter for a script. */
async function expectedExecutable(bundle: Bundle, manifest: FileEntry[]): Promise<string | undefined> {
  const command = resolveCommand(manifest, bundle.process);
  if (!command) return undefined;
  const interpreter = interpreterOf(await firstBytes(join(bundle.rootfs, command)));
  return interpreter ? resolveInterpreter(manifest, interpreter) : command;
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

async function readConfig(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}
