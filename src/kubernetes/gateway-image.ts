/**
 * The image of cairn's in-cluster gateway pods, built by cairn's own reproducible builder: the
 * `host:node` base, the one bundled program at /gateway/main.js, the non-root user, entrypoint
 * `node /gateway/main.js`; signed with the workspace key with its SBOM and provenance like any
 * build. Content-addressed: the same bundle and base give the same digest.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { entriesKey } from '../artifact/build-inputs.js';
import { imageDocuments } from '../artifact/image-config.js';
import {
  DEFAULT_SOURCE_DATE_EPOCH,
  type Descriptor,
  HOST_NODE_BASE,
  type ImageConfig,
  type ImageStore,
  MEDIA_TYPE,
  NONROOT_UID,
  resolveBase,
} from '../artifact/index.js';
import { LayerCache } from '../artifact/layer-cache.js';
import type { LayerEntry } from '../artifact/tar-layer.js';
import { NotFoundError } from '../lib/index.js';
import { type AttestResult, attestImage, type SigningKey } from '../trust/index.js';
import { DEFAULT_ADMIN_PORT, GATEWAY_NAME } from './gateway-manifests.js';

/** The name the gateway image goes by in signatures, provenance and the store (`cairn-gateway:latest`). */
export const GATEWAY_IMAGE_NAME = GATEWAY_NAME;
/** Where the program is in the image, and how it is started. */
export const GATEWAY_IMAGE_MAIN = '/gateway/main.js';
export const GATEWAY_IMAGE_ENTRYPOINT = ['node', GATEWAY_IMAGE_MAIN];

/** `dist/gateway-pod/main.js` of this package (`npm run build` makes it); the same path from src/ and dist/. */
export const GATEWAY_BUNDLE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'dist',
  'gateway-pod',
  'main.js',
);

export interface GatewayImageOptions {
  store: ImageStore;
  /** The workspace key: the image is signed and attested with it. */
  key: SigningKey;
  /** Layer and base caches; default `<store>/../cache`, as `cairn build` uses. */
  cacheDir?: string;
  /** The bundled program; default `GATEWAY_BUNDLE`. */
  bundleFile?: string;
  /** Seconds; file times and `created`. Default 0. */
  sourceDateEpoch?: number;
  /** Clock of the provenance and SBOM times (tests pin it). */
  now?: () => Date;
}

export interface GatewayImage {
  /** The manifest digest: the image's identity. */
  digest: string;
  descriptor: Descriptor;
  config: ImageConfig;
  /** The uid the pod runs as (the image's user). */
  uid: number;
  base: { name: string; digest: string };
  attestations: AttestResult;
}

function readBundle(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new NotFoundError(`building the gateway image: cannot read its program ${file}`, {
      hint: 'run `npm run build` (it bundles dist/gateway-pod/main.js)',
      cause: error,
    });
  }
}

/** The layer entries of the program: /gateway, read-only. */
export function gatewayEntries(bundle: Buffer): LayerEntry[] {
  return [
    { path: 'gateway', type: 'dir', mode: 0o755 },
    { path: GATEWAY_IMAGE_MAIN.slice(1), type: 'file', mode: 0o444, data: bundle },
  ];
}

/**
 * Builds (or finds, when unchanged) the gateway image in `store`, tags it `cairn-gateway:latest`,
 * signs it and attaches its SBOM and provenance.
 * @example
 * const image = await buildGatewayImage({ store, key });
 * await pushReleaseImage(store, image.digest, 'cairn-gateway', registry, env);
 */
export async function buildGatewayImage(opts: GatewayImageOptions): Promise<GatewayImage> {
  const startedOn = opts.now?.() ?? new Date();
  const entries = gatewayEntries(readBundle(opts.bundleFile ?? GATEWAY_BUNDLE));
  const mtimeSec = opts.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH;
  const cacheDir = opts.cacheDir ?? join(dirname(opts.store.dir), 'cache');
  const cache = new LayerCache(opts.store, join(cacheDir, 'layers'));
  const base = await resolveBase(HOST_NODE_BASE, {
    store: opts.store,
    cache,
    basesDir: join(cacheDir, 'bases'),
    dir: cacheDir,
    mtimeSec,
  });
  const layer = await cache.layer({
    createdBy: 'cairn: gateway program (/gateway/main.js)',
    key: entriesKey(entries),
    entries: () => entries,
    mtimeSec,
  });
  const docs = imageDocuments({
    base,
    layers: [layer],
    entrypoint: GATEWAY_IMAGE_ENTRYPOINT,
    env: { NODE_ENV: 'production' },
    workdir: '/gateway',
    user: NONROOT_UID,
    // The admin listener's default port, recorded as the image's exposed port.
    port: DEFAULT_ADMIN_PORT,
    createdSec: mtimeSec,
    annotations: {},
  });
  await opts.store.putBlob(docs.configBytes, MEDIA_TYPE.config);
  const descriptor = await opts.store.putBlob(docs.manifestBytes, MEDIA_TYPE.manifest);
  await opts.store.tag(`${GATEWAY_IMAGE_NAME}:latest`, descriptor);
  const attestations = await attestImage(opts.store, descriptor, {
    key: opts.key,
    reference: GATEWAY_IMAGE_NAME,
    service: GATEWAY_IMAGE_NAME,
    startedOn,
    ...(opts.now && { now: opts.now }),
  });
  return {
    digest: descriptor.digest,
    descriptor,
    config: docs.config,
    uid: NONROOT_UID,
    base: { name: base.name, digest: base.digest },
    attestations,
  };
}
