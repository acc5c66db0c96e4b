/** The OCI image layout on disk (`.cairn/store`): content-addressed blobs and a named index. */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ConflictError,
  digestHex,
  IntegrityError,
  isDigest,
  NotFoundError,
  sha256Digest,
  shortDigest,
  ValidationError,
} from '../lib/index.js';
import { withFileLock, writeFileAtomic } from './atomic-file.js';
import {
  type Descriptor,
  isRefName,
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPE,
  type OciIndex,
  type OciManifest,
  parseManifest,
  REF_NAME_ANNOTATION,
} from './oci.js';

const LAYOUT_FILE = 'oci-layout';
const INDEX_FILE = 'index.json';
const TMP_DIR = '.tmp';
const MIN_PREFIX_HEX = 4;

/** A local OCI image layout. Every write is atomic; every read of a blob is checked against its digest. */
export interface ImageStore {
  readonly dir: string;
  /** Stores bytes under their sha256 digest; idempotent. */
  putBlob(bytes: Uint8Array, mediaType: string): Promise<Descriptor>;
  hasBlob(digest: string): Promise<boolean>;
  /** Reads a blob and verifies it against its digest (IntegrityError when it does not match). */
  readBlob(digest: string): Promise<Buffer>;
  /** Where a blob lives on disk (it may not exist). */
  blobPath(digest: string): string;
  readManifest(digest: string): Promise<OciManifest>;
  /** Names a descriptor in index.json (`org.opencontainers.image.ref.name`), replacing any previous holder. */
  tag(ref: string, descriptor: Descriptor): Promise<void>;
  /** A ref, a full digest, or a unique digest prefix (at least 4 hex) → descriptor; NotFoundError otherwise. */
  resolve(refOrDigest: string): Promise<Descriptor>;
  /** Every manifest in index.json, with its ref when it has one. */
  list(): Promise<Array<{ ref?: string; descriptor: Descriptor }>>;
}

/** Opens (without creating) the image layout at `dir`; the first write creates it. */
export function openImageStore(dir: string): ImageStore {
  return new LayoutStore(dir);
}

class LayoutStore implements ImageStore {
  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', digestHex(digest));
  }

  async putBlob(bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    const digest = sha256Digest(bytes);
    const descriptor = { mediaType, digest, size: bytes.byteLength };
    if (await this.hasBlob(digest)) return descriptor;
    await this.ensureLayout();
    await writeFileAtomic(this.blobPath(digest), bytes, join(this.dir, TMP_DIR));
    return descriptor;
  }

  async hasBlob(digest: string): Promise<boolean> {
    if (!isDigest(digest)) return false;
    return existsSync(this.blobPath(digest));
  }

  async readBlob(digest: string): Promise<Buffer> {
    if (!isDigest(digest)) throw new ValidationError(`reading blob ${digest}: not a sha256 digest`, []);
    let bytes: Buffer;
    try {
      bytes = await readFile(this.blobPath(digest));
    } catch (error) {
      throw new NotFoundError(`reading blob ${shortDigest(digest)}: not in the store ${this.dir}`, {
        hint: 'build or pull the image first',
        cause: error,
      });
    }
    const actual = sha256Digest(bytes);
    if (actual !== digest) {
      throw new IntegrityError(`reading blob ${digest}: its content has digest ${actual}`, {
        hint: 'the store is corrupt; remove the blob and build or pull the image again',
      });
    }
    return bytes;
  }

  async readManifest(digest: string): Promise<OciManifest> {
    const bytes = await this.readBlob(digest);
    try {
      return parseManifest(bytes);
    } catch (error) {
      throw new ValidationError(`reading manifest ${shortDigest(digest)}: ${(error as Error).message}`, [], {
        cause: error,
      });
    }
  }

  async tag(ref: string, descriptor: Descriptor): Promise<void> {
    if (!isRefName(ref)) {
      throw new ValidationError(`tagging ${ref}: not a valid image ref name`, [], {
        hint: 'use letters, digits and . _ - : @ + separated by /, e.g. hello:latest',
      });
    }
    await this.ensureLayout();
    await withFileLock(join(this.dir, `${INDEX_FILE}.lock`), async () => {
      const index = await this.readIndex();
      const others = index.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== ref);
      const entry = { ...descriptor, annotations: { ...descriptor.annotations, [REF_NAME_ANNOTATION]: ref } };
      index.manifests = [...others, entry];
      await this.writeJson(INDEX_FILE, index);
    });
  }

  async resolve(refOrDigest: string): Promise<Descriptor> {
    const entries = await this.list();
    const byRef = entries.find((e) => e.ref === refOrDigest);
    if (byRef) return byRef.descriptor;
    if (isDigest(refOrDigest)) return this.describeBlob(refOrDigest, entries);
    const hex = refOrDigest.replace(/^sha256:/, '');
    if (/^[0-9a-f]+$/.test(hex) && hex.length >= MIN_PREFIX_HEX) {
      const matches = (await this.blobDigests()).filter((d) => d.startsWith(`sha256:${hex}`));
      if (matches.length > 1) {
        throw new ConflictError(`resolving ${refOrDigest}: ${matches.length} blobs start with it`, {
          hint: 'give more digits of the digest',
        });
      }
      if (matches.length === 1) return this.describeBlob(matches[0]!, entries);
    }
    throw new NotFoundError(`resolving ${refOrDigest}: no such ref or digest in ${this.dir}`, {
      hint: 'run `cairn images` to see what the store holds',
    });
  }

  async list(): Promise<Array<{ ref?: string; descriptor: Descriptor }>> {
    const index = await this.readIndex();
    return index.manifests.map((descriptor) => {
      const ref = descriptor.annotations?.[REF_NAME_ANNOTATION];
      return ref === undefined ? { descriptor } : { ref, descriptor };
    });
  }

  private async describeBlob(
    digest: string,
    entries: Array<{ descriptor: Descriptor }>,
  ): Promise<Descriptor> {
    const known = entries.find((e) => e.descriptor.digest === digest);
    if (known) return known.descriptor;
    const bytes = await this.readBlob(digest);
    let mediaType: string = MEDIA_TYPE.manifest;
    try {
      const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: string };
      if (parsed.mediaType && MANIFEST_MEDIA_TYPES.includes(parsed.mediaType)) mediaType = parsed.mediaType;
    } catch {
      mediaType = 'application/octet-stream';
    }
    return { mediaType, digest, size: bytes.byteLength };
  }

  private async blobDigests(): Promise<string[]> {
    try {
      const names = await readdir(join(this.dir, 'blobs', 'sha256'));
      return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`);
    } catch {
      return [];
    }
  }

  private async readIndex(): Promise<OciIndex> {
    try {
      return JSON.parse(await readFile(join(this.dir, INDEX_FILE), 'utf8')) as OciIndex;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyIndex();
      throw new IntegrityError(`reading ${join(this.dir, INDEX_FILE)}: not valid JSON`, { cause: error });
    }
  }

  private async ensureLayout(): Promise<void> {
    const exists = await stat(join(this.dir, LAYOUT_FILE)).then(
      () => true,
      () => false,
    );
    if (exists) return;
    await this.writeJson(LAYOUT_FILE, { imageLayoutVersion: '1.0.0' });
    if (!existsSync(join(this.dir, INDEX_FILE))) await this.writeJson(INDEX_FILE, emptyIndex());
  }

  private async writeJson(name: string, value: unknown): Promise<void> {
    const bytes = Buffer.from(JSON.stringify(value));
    await writeFileAtomic(join(this.dir, name), bytes, join(this.dir, TMP_DIR));
  }
}

function emptyIndex(): OciIndex {
  return { schemaVersion: 2, mediaType: MEDIA_TYPE.index, manifests: [] };
}
