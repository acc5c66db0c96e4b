/** Test fixtures: small OCI images held in memory, with layers written entry by entry. Tests only. */
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { sha256Digest } from '../../lib/index.js';
import type { BlobSource } from '../types.js';

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  body?: string;
  mode?: number;
  linkname?: string;
}

/** A tar archive of the entries, in the given order. */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      linkname: e.linkname,
    };
    if (type === 'file') pack.entry(header, e.body ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An in-memory blob store; `blobs` may be edited to simulate tampering. */
export class MemoryImage implements BlobSource {
  readonly blobs = new Map<string, Buffer>();
  digest = '';

  put(bytes: Buffer): string {
    const digest = sha256Digest(bytes);
    this.blobs.set(digest, bytes);
    return digest;
  }

  async readBlob(digest: string): Promise<Buffer> {
    const bytes = this.blobs.get(digest);
    if (!bytes) throw new Error(`no blob ${digest}`);
    return bytes;
  }
}

/** Builds an image from layers of entries; the config runs `args` as uid 65532 (`volumes`: its mount points). */
export async function memoryImage(
  layers: TarEntry[][],
  args: string[] = ['/bin/app'],
  diffIdsOverride?: string[],
  volumes?: string[],
): Promise<MemoryImage> {
  const image = new MemoryImage();
  const descriptors = [];
  const diffIds = [];
  for (const entries of layers) {
    const tarBytes = await tarOf(entries);
    diffIds.push(sha256Digest(tarBytes));
    const gz = gzipSync(tarBytes);
    descriptors.push({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: image.put(gz),
      size: gz.length,
    });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        User: '65532',
        Entrypoint: args,
        WorkingDir: '/app',
        ...(volumes ? { Volumes: Object.fromEntries(volumes.map((v) => [v, {}])) } : {}),
      },
      rootfs: { type: 'layers', diff_ids: diffIdsOverride ?? diffIds },
    }),
  );
  const configDigest = image.put(config);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: config.length,
    },
    layers: descriptors,
  };
  image.digest = image.put(Buffer.from(JSON.stringify(manifest)));
  return image;
}
