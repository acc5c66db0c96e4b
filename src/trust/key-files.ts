/**
 * Keys on disk: `NAME.key` (PKCS#8 PEM, mode 0600) and `NAME.pub` (SPKI PEM). A key file is never
 * overwritten; a private key readable by others is used, with a warning.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError } from '../lib/index.js';
import { workspaceFor } from '../state/index.js';
import {
  KeyError,
  type KeyPairPem,
  type PublicKeyInfo,
  parsePrivateKey,
  parsePublicKey,
  type SigningKey,
} from './key-pair.js';

export const DEFAULT_KEY_NAME = 'cairn';
const PRIVATE_MODE = 0o600;
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface KeyFiles {
  privateKeyFile: string;
  publicKeyFile: string;
}

export function keyFilesFor(dir: string, name: string = DEFAULT_KEY_NAME): KeyFiles {
  if (!KEY_NAME.test(name)) {
    throw new KeyError(
      `naming key "${name}": not a valid key name`,
      "use letters, digits, '.', '_' or '-' (at most 64)",
    );
  }
  return { privateKeyFile: join(dir, `${name}.key`), publicKeyFile: join(dir, `${name}.pub`) };
}

/** Writes both halves; refuses (and writes nothing) when either file exists. */
export function writeKeyPair(dir: string, name: string, pair: KeyPairPem): KeyFiles {
  const files = keyFilesFor(dir, name);
  for (const file of [files.privateKeyFile, files.publicKeyFile]) {
    if (existsSync(file)) {
      throw new ConflictError(`writing key ${file}: the file exists`, {
        hint: 'cairn never overwrites a key; pick another --name or remove the old key yourself',
      });
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(files.privateKeyFile, pair.privateKeyPem, { mode: PRIVATE_MODE, flag: 'wx' });
  chmodSync(files.privateKeyFile, PRIVATE_MODE);
  writeFileSync(files.publicKeyFile, pair.publicKeyPem, { mode: 0o644, flag: 'wx' });
  return files;
}

function readKeyFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reasons: Record<string, string> = {
      ENOENT: 'no such file',
      EACCES: 'permission denied',
      EISDIR: 'it is a folder',
    };
    const reason = reasons[String(code)] ?? `cannot read it (${code})`;
    throw new NotFoundError(`reading ${what} ${file}: ${reason}`, {
      hint: 'create a key pair with `cairn keygen`, or pass the right path with --key',
      cause: error,
    });
  }
}

export interface LoadedSigningKey {
  key: SigningKey;
  warnings: string[];
}

/** Reads a private key; warns (does not fail) when group or others may read it. */
export function loadSigningKey(file: string): LoadedSigningKey {
  const pem = readKeyFile(file, 'private key');
  const key = parsePrivateKey(pem, file);
  const mode = statSync(file).mode & 0o777;
  const warnings =
    (mode & 0o077) === 0
      ? []
      : [
          `private key ${file} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${file}`,
        ];
  return { key, warnings };
}

export function loadPublicKey(file: string): PublicKeyInfo {
  return parsePublicKey(readKeyFile(file, 'public key'), file);
}

/** The workspace's keys folder (`.cairn/keys`, or `$CAIRN_HOME/keys`). */
export function workspaceKeysDir(specFile: string, env: NodeJS.ProcessEnv = process.env): string {
  return workspaceFor(specFile, env).keys;
}

/** The key `cairn build` signs with when none is named: `.cairn/keys/cairn.key`, if it exists. */
export function defaultSigningKeyFile(
  specFile: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const file = keyFilesFor(workspaceKeysDir(specFile, env)).privateKeyFile;
  return existsSync(file) ? file : undefined;
}
