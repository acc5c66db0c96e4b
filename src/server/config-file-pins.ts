/**
 * The workspace's copy of every configuration file a release was made with
 * (`.cairn/config-files/<sha256 hex>`, content-addressed, read-only): captured at deploy, so a later
 * edit of the project file changes no running release — a change needs a new deploy. Instances
 * read their files from here, and a copy whose bytes no longer hash to its name is refused.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, IntegrityError, NotFoundError, sha256Digest } from '../lib/index.js';
import type { ConfigFile } from '../spec/index.js';

export const CONFIG_FILES_DIR = 'config-files';

export class ConfigFilePins {
  constructor(private readonly dir: string) {}

  /** Keeps each file's content under its digest (once: the same content is stored once). */
  async pin(files: readonly ConfigFile[]): Promise<void> {
    if (files.length === 0) return;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const file of files) {
      const path = join(this.dir, digestHex(file.digest));
      if (existsSync(path)) continue;
      const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writeFile(tmp, file.content, { mode: 0o444, flag: 'wx' });
        await rename(tmp, path);
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
    }
  }

  /** The content of each pinned file (target → bytes), checked against its digest. */
  async read(release: string, files: Record<string, string>): Promise<Record<string, Buffer>> {
    const out: Record<string, Buffer> = {};
    for (const [target, digest] of Object.entries(files)) {
      const path = join(this.dir, digestHex(digest));
      const content = await readFile(path).catch(() => {
        throw new NotFoundError(
          `reading configuration file ${target} of ${release}: the workspace has no copy of ${digest}`,
          { hint: 'deploy the service again (`cairn deploy`): a deploy pins the files it names' },
        );
      });
      if (sha256Digest(content) !== digest) {
        throw new IntegrityError(
          `reading configuration file ${target} of ${release}: its pinned copy no longer hashes to ${digest}`,
          { hint: `the workspace was modified; deploy the service again to pin the file anew` },
        );
      }
      out[target] = content;
    }
    return out;
  }
}
