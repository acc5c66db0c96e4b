/**
 * The audit key: an Ed25519 key pair in the workspace's keys folder. The private half
 * (`audit.key`, PKCS#8 PEM) is written at mode 0600 and never printed; the public half
 * (`audit.pub`, SPKI PEM) is what an auditor verifies checkpoints with, e.g. with openssl.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, IntegrityError, NotFoundError, ValidationError } from '../lib/index.js';

export const AUDIT_PRIVATE_KEY_FILE = 'audit.key';
export const AUDIT_PUBLIC_KEY_FILE = 'audit.pub';

export const auditPublicKeyPath = (keyDir: string): string => join(keyDir, AUDIT_PUBLIC_KEY_FILE);
export const auditPrivateKeyPath = (keyDir: string): string => join(keyDir, AUDIT_PRIVATE_KEY_FILE);

/** Creates the audit key pair; refuses to replace one (that would orphan every checkpoint). */
export function createAuditKey(keyDir: string): void {
  const privatePath = auditPrivateKeyPath(keyDir);
  if (existsSync(privatePath) || existsSync(auditPublicKeyPath(keyDir))) {
    throw new ConflictError(`creating the audit key in ${keyDir}: an audit key already exists`, {
      hint: 'checkpoints are signed with it; keep it (rotating the audit key is not supported yet)',
    });
  }
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(privatePath, privateKey.export({ format: 'pem', type: 'pkcs8' }), {
    mode: 0o600,
    flag: 'wx',
  });
  writeFileSync(auditPublicKeyPath(keyDir), publicKey.export({ format: 'pem', type: 'spki' }), {
    mode: 0o644,
    flag: 'wx',
  });
}

/** Reads an Ed25519 public key from a PEM (SPKI) file. */
export function readAuditPublicKey(file: string): KeyObject {
  if (!existsSync(file)) {
    throw new NotFoundError(`reading the audit public key: ${file} does not exist`, {
      hint: 'pass --key with the audit.pub of the log (it is in .cairn/keys/ of the workspace that wrote it)',
    });
  }
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(file));
  } catch (error) {
    throw new ValidationError(`reading the audit public key ${file}: not a PEM public key`, [], {
      cause: error,
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ValidationError(
      `reading the audit public key ${file}: it is ${key.asymmetricKeyType}, want ed25519`,
      [],
    );
  }
  return key;
}

/** The signing key pair, or undefined when this workspace has no private audit key (a read-only copy). */
export function readAuditSigner(keyDir: string): { privateKey: KeyObject; publicKey: KeyObject } | undefined {
  const privatePath = auditPrivateKeyPath(keyDir);
  if (!existsSync(privatePath)) return undefined;
  if ((statSync(privatePath).mode & 0o077) !== 0) {
    throw new IntegrityError(`reading the audit key: ${privatePath} is readable by other users`, {
      hint: `run \`chmod 600 ${privatePath}\`; anyone who read it can forge checkpoints, so consider the log's signatures suspect`,
    });
  }
  const privateKey = createPrivateKey(readFileSync(privatePath));
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
