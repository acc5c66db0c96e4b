/**
 * The workspace's identity key: 32 random bytes (hex) in `.cairn/keys/identity-hmac.key`, mode 0600,
 * created when the first instance starts. Instance records hold keyed hashes made with it (secret
 * versions, env values); `cairn drift` reads it to hash what it observes the same way. Its place is
 * found from the bundles folder, which every caller that records or checks an identity knows.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IntegrityError, NotFoundError } from '../lib/index.js';
import { IDENTITY_KEY_BYTES } from './secret-hash.js';

export const IDENTITY_KEY_FILE = 'identity-hmac.key';
const KEY_TEXT = /^[0-9a-f]{64}$/;

/** `.cairn/keys/identity-hmac.key` for the workspace whose bundles are in `bundlesDir`. */
export function identityKeyPath(bundlesDir: string): string {
  return join(dirname(bundlesDir), 'keys', IDENTITY_KEY_FILE);
}

/** Reads the key; a missing or malformed key file is an error (never a fresh key: records would all differ). */
export async function readIdentityKey(file: string): Promise<Buffer> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new NotFoundError(`reading the identity key: ${IDENTITY_KEY_FILE} does not exist`, {
      hint: 'it is created when an instance starts; restore it from a backup of the workspace if it was removed',
    });
  }
  if (!KEY_TEXT.test(text)) {
    throw new IntegrityError(
      `reading the identity key: ${IDENTITY_KEY_FILE} is not ${IDENTITY_KEY_BYTES} bytes of hex`,
    );
  }
  return Buffer.from(text, 'hex');
}

/**
 * Reads the key, creating it first when missing. Creation is atomic (a complete file is linked into
 * place), so two instances starting at once end up with the same key.
 */
export async function loadOrCreateIdentityKey(file: string): Promise<Buffer> {
  try {
    return await readIdentityKey(file);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(draft, `${randomBytes(IDENTITY_KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(draft, { force: true });
  }
  return readIdentityKey(file);
}
