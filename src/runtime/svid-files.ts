/**
 * An instance's SVID files: `svid.pem`, `svid-key.pem` and `bundle.pem` in the folder `.spiffe` of
 * its secrets folder — in memory, private, bind-mounted read-only at /run/secrets/.spiffe. No secret
 * file can be named `.spiffe` (secret names start with a letter, digit or "_"), and drift leaves the
 * folder out of the secrets it compares, since the files change at every renewal. A renewal writes
 * each file beside the old one and renames it over: a reader sees the old file or the new, never half.
 */
import { randomBytes } from 'node:crypto';
import { chown, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The folder's name inside the secrets folder (and so under /run/secrets). */
export const SVID_FOLDER = '.spiffe';
/** What an instance with an identity is given; each a PEM text. */
export interface SvidFiles {
  cert: string;
  key: string;
  bundle: string;
  /**
   * The identity hop's port on the host's loopback. An isolated instance (its own network
   * namespace) reaches it at its host address: the port is added to its egress.
   */
  hopPort?: number;
}

const FILE_NAMES: Record<'cert' | 'key' | 'bundle', string> = {
  cert: 'svid.pem',
  key: 'svid-key.pem',
  bundle: 'bundle.pem',
};

/** The variables that tell an instance where its SVID files are, `dir` being its secrets folder as it sees it. */
export function svidVars(secretsDir: string): Record<string, string> {
  const folder = join(secretsDir, SVID_FOLDER);
  return {
    CAIRN_SVID_CERT: join(folder, FILE_NAMES.cert),
    CAIRN_SVID_KEY: join(folder, FILE_NAMES.key),
    CAIRN_TRUST_BUNDLE: join(folder, FILE_NAMES.bundle),
  };
}

/** The SVID folder of an instance whose secrets folder (on the host) is `secretsDir`. */
export const svidDirOf = (secretsDir: string): string => join(secretsDir, SVID_FOLDER);

/**
 * Writes (or replaces) the SVID files in `secretsDir/.spiffe`, mode 0400, owned by `owner` when
 * given (the instance's user, when cairn runs as root). Each file is renamed into place.
 */
export async function writeSvidFiles(
  secretsDir: string,
  files: SvidFiles,
  owner?: { uid: number; gid: number },
): Promise<void> {
  const dir = svidDirOf(secretsDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (owner) await chown(dir, owner.uid, owner.gid);
  for (const [field, name] of Object.entries(FILE_NAMES) as ['cert' | 'key' | 'bundle', string][]) {
    const draft = join(dir, `.${name}.${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(draft, files[field], { mode: 0o400, flag: 'wx' });
      if (owner) await chown(draft, owner.uid, owner.gid);
      await rename(draft, join(dir, name));
    } finally {
      await rm(draft, { force: true });
    }
  }
}

/** Who owns an instance's SVID folder (to give renewed files the same owner); undefined when it is gone. */
export async function svidOwner(secretsDir: string): Promise<{ uid: number; gid: number } | undefined> {
  const info = await stat(svidDirOf(secretsDir)).catch(() => undefined);
  return info ? { uid: info.uid, gid: info.gid } : undefined;
}
