/**
 * The secret store key: 32 random bytes (hex) in `.cairn/keys/secrets.key`, mode 0600, created by
 * the first `cairn secret set`. Losing it loses every stored value; a wrong one opens nothing.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { IntegrityError, NotFoundError } from '../lib/index.js';
import { STORE_KEY_BYTES } from './secret-box.js';

export const STORE_KEY_FILE = 'secrets.key';
const KEY_TEXT = /^[0-9a-f]{64}$/;

/** `.cairn/keys/secrets.key` of a workspace's keys folder. */
export const storeKeyPath = (keysDir: string): string => join(keysDir, STORE_KEY_FILE);

/** Reads the key; a missing or malformed file is an error, never a fresh key. */
export function readStoreKey(file: string): Buffer {
  if (!existsSync(file)) {
    throw new NotFoundError(`reading the secret store key: keys/${STORE_KEY_FILE} does not exist`, {
      hint: 'restore it from the backup of the workspace; without it no stored secret can be read',
    });
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const text = readFileSync(file, 'utf8').trim();
  if (!KEY_TEXT.test(text)) {
    throw new IntegrityError(
      `reading the secret store key: keys/${STORE_KEY_FILE} is not ${STORE_KEY_BYTES} bytes of hex`,
      {
        hint: 'restore the file from the backup of the workspace',
      },
    );
  }
  return Buffer.from(text, 'hex');
}

/** Reads the key, creating it (atomically, 0600) when the workspace has none yet. */
export function loadOrCreateStoreKey(file: string): Buffer {
  if (existsSync(file)) return readStoreKey(file);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${randomBytes(STORE_KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(draft, { force: true });
  }
  return readStoreKey(file);
}
