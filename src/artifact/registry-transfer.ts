/** Push an image from the store to a registry, and pull one from a registry into the store. */
import { shortDigest, ValidationError } from '../lib/index.js';
import { formatRegistryRef, type RegistryRef } from './image-ref.js';
import type { ImageStore } from './layout-store.js';
import { type Descriptor, MEDIA_TYPE, type OciIndex, type OciManifest, parseManifest } from './oci.js';
import type { Progress, RegistryClient } from './registry-client.js';

/** Reports progress per blob: its digest, bytes done, total bytes. */
export type BlobProgress = (digest: string, done: number, total: number) => void;

export interface PushResult {
  digest: string;
  target: string;
  /** Blobs uploaded (the rest the registry already had). */
  uploaded: string[];
  skipped: string[];
}

/** Pushes the manifest at `descriptor` with its config and layers; the manifest goes last. */
export async function pushImage(
  store: ImageStore,
  descriptor: Descriptor,
  target: RegistryRef,
  client: RegistryClient,
  onProgress?: BlobProgress,
): Promise<PushResult> {
  const name = formatRegistryRef({ ...target, digest: undefined });
  const action = `pushing ${shortDigest(descriptor.digest)} to ${name}`;
  const manifest = await store.readManifest(descriptor.digest);
  const uploaded: string[] = [];
  const skipped: string[] = [];
  const blobs = [manifest.config, ...manifest.layers];
  // Verify every blob against its digest before the first byte leaves, so a corrupt store pushes nothing.
  for (const blob of blobs) await store.readBlob(blob.digest);
  for (const blob of blobs) {
    const bytes = await store.readBlob(blob.digest);
    const progress: Progress = (done, total) => onProgress?.(blob.digest, done, total);
    const sent = await client.pushBlob(target.repository, bytes, blob, action, progress);
    (sent ? uploaded : skipped).push(blob.digest);
  }
  const bytes = await store.readBlob(descriptor.digest);
  const reference = target.tag ?? descriptor.digest;
  const mediaType = manifest.mediaType ?? descriptor.mediaType;
  const digest = await client.putManifest(target.repository, reference, bytes, mediaType, action);
  return { digest, target: `${name}@${digest}`, uploaded, skipped };
}

export interface PullResult {
  descriptor: Descriptor;
  manifest: OciManifest;
  /** Blobs downloaded (the rest the store already had). */
  fetched: string[];
}

/** Pulls `ref` (tag or digest) into the store; for an index, the manifest for this platform. */
export async function pullImage(
  store: ImageStore,
  ref: RegistryRef,
  client: RegistryClient,
  onProgress?: BlobProgress,
): Promise<PullResult> {
  const action = `pulling ${formatRegistryRef(ref)}`;
  let fetched = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest', action);
  if (fetched.mediaType.includes('index') || fetched.mediaType.includes('manifest.list')) {
    const chosen = choosePlatform(JSON.parse(fetched.bytes.toString('utf8')) as OciIndex, action);
    fetched = await client.getManifest(ref.repository, chosen.digest, action);
  }
  const manifest = parseManifest(fetched.bytes);
  const got: string[] = [];
  for (const blob of [manifest.config, ...manifest.layers]) {
    if (await store.hasBlob(blob.digest)) continue;
    const bytes = await client.getBlob(ref.repository, blob, action, (d, t) =>
      onProgress?.(blob.digest, d, t),
    );
    await store.putBlob(bytes, blob.mediaType);
    got.push(blob.digest);
  }
  const mediaType = manifest.mediaType ?? fetched.mediaType ?? MEDIA_TYPE.manifest;
  const descriptor = await store.putBlob(fetched.bytes, mediaType);
  return { descriptor, manifest, fetched: got };
}

const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
};

/** This machine's OCI architecture name (`amd64`, `arm64`, …). */
export function ociArchitecture(arch: string = process.arch): string {
  return ARCH[arch] ?? arch;
}

function choosePlatform(index: OciIndex, action: string): Descriptor {
  const arch = ociArchitecture();
  const match = index.manifests.find(
    (m) => (m as { platform?: { os?: string; architecture?: string } }).platform?.architecture === arch,
  );
  if (!match) {
    throw new ValidationError(`${action}: the index has no manifest for linux/${arch}`, [], {
      hint: 'pin the base to a single-platform manifest digest',
    });
  }
  return match;
}
