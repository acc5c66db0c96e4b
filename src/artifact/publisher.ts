/**
 * `ImagePublisher`: where a built image goes besides the local store — another OCI image layout
 * (`layout`) or a registry (`registry`). Both copy config and layers first and name the manifest
 * last, skip what the destination already has, and report per-blob progress.
 */
import { resolve as resolvePath } from 'node:path';
import { ValidationError } from '../lib/index.js';
import { formatRegistryRef, parseRegistryRef, type RegistryRef } from './image-ref.js';
import { type ImageStore, openImageStore } from './layout-store.js';
import { type Descriptor, isRefName } from './oci.js';
import type { Credentials } from './registry-auth.js';
import { RegistryClient, type RegistryClientConfig } from './registry-client.js';
import { type BlobProgress, type PushResult, pushImage } from './registry-transfer.js';

export interface ImagePublisher {
  readonly kind: 'layout' | 'registry';
  /** Where images go, as a user would write it (`oci:PATH:REF`, `REGISTRY/REPO:TAG`). */
  readonly destination: string;
  /** Copies the image at `descriptor` from `store` to the destination and names it there. */
  publish(store: ImageStore, descriptor: Descriptor, onProgress?: BlobProgress): Promise<PushResult>;
}

export interface LayoutPublisherConfig {
  /** The destination OCI image layout folder (created on first write). */
  dir: string;
  /** The `org.opencontainers.image.ref.name` to give the image there. */
  ref: string;
}

export function createLayoutPublisher(config: LayoutPublisherConfig): ImagePublisher {
  if (!isRefName(config.ref)) {
    throw new ValidationError(
      `publishing to oci:${config.dir}:${config.ref}: "${config.ref}" is not a valid ref name`,
      [],
      {
        hint: 'use letters, digits and . _ - : @ + separated by /, e.g. hello:v1',
      },
    );
  }
  const target = openImageStore(config.dir);
  return {
    kind: 'layout',
    destination: `oci:${config.dir}:${config.ref}`,
    async publish(store, descriptor, onProgress) {
      const manifest = await store.readManifest(descriptor.digest);
      const uploaded: string[] = [];
      const skipped: string[] = [];
      for (const blob of [manifest.config, ...manifest.layers]) {
        if (await target.hasBlob(blob.digest)) skipped.push(blob.digest);
        else {
          await target.putBlob(await store.readBlob(blob.digest), blob.mediaType);
          uploaded.push(blob.digest);
        }
        onProgress?.(blob.digest, blob.size, blob.size);
      }
      const named = await target.putBlob(await store.readBlob(descriptor.digest), descriptor.mediaType);
      await target.tag(config.ref, named);
      return {
        digest: named.digest,
        target: `oci:${config.dir}:${config.ref}@${named.digest}`,
        uploaded,
        skipped,
      };
    },
  };
}

export interface RegistryPublisherConfig extends Omit<RegistryClientConfig, 'registry'> {
  /** REGISTRY/REPO[:TAG]; without a tag the manifest is pushed by digest only. */
  target: RegistryRef;
}

export function createRegistryPublisher(config: RegistryPublisherConfig): ImagePublisher {
  if (config.target.digest) {
    throw new ValidationError(
      `publishing to ${formatRegistryRef(config.target)}: name a tag, not a digest`,
      [],
      {
        hint: 'the digest is what the push produces; write REGISTRY/REPO:TAG',
      },
    );
  }
  const client = new RegistryClient({ ...config, registry: config.target.registry });
  return {
    kind: 'registry',
    destination: formatRegistryRef(config.target),
    publish: (store, descriptor, onProgress) =>
      pushImage(store, descriptor, config.target, client, onProgress),
  };
}

/** A publisher for what a user wrote after `--to`: `oci:PATH:REF` (PATH relative to `baseDir`) or `REGISTRY/REPO[:TAG]`. */
export function createPublisher(
  destination: string,
  options: { insecure?: boolean; credentials?: Credentials | undefined; baseDir?: string } = {},
): ImagePublisher {
  if (destination.startsWith('oci:')) {
    const rest = destination.slice('oci:'.length);
    const colon = rest.indexOf(':');
    if (colon <= 0 || colon === rest.length - 1) {
      throw new ValidationError(`publishing to ${destination}: expected oci:PATH:REF`, [], {
        hint: 'name the layout folder and a ref, e.g. oci:./out:hello:v1',
      });
    }
    return createLayoutPublisher({
      dir: resolvePath(options.baseDir ?? '.', rest.slice(0, colon)),
      ref: rest.slice(colon + 1),
    });
  }
  return createRegistryPublisher({
    target: parseRegistryRef(destination),
    ...(options.insecure ? { insecure: true } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
}
