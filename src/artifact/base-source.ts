/**
 * Resolves `build.base` to an image in the store — host:node assembled from this machine, an OCI
 * layout (`oci:PATH:REF`), or a registry image pinned by digest — once, then reused by digest.
 */
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import {
  CairnError,
  digestHex,
  fromSystemError,
  jsonDigest,
  NotFoundError,
  ValidationError,
} from '../lib/index.js';
import { isInside } from '../spec/index.js';
import { writeFileAtomic } from './atomic-file.js';
import { HOST_NODE_BASE, hostNodeEntries, hostNodeQuickKey, planHostNode } from './base-host-node.js';
import { baseDocuments } from './image-config.js';
import { type BaseSpec, formatRegistryRef, isLoopbackRegistry, parseBaseSpec } from './image-ref.js';
import type { LayerCache } from './layer-cache.js';
import { type ImageStore, openImageStore } from './layout-store.js';
import { type Descriptor, type ImageConfig, MEDIA_TYPE, type OciManifest } from './oci.js';
import type { Credentials } from './registry-auth.js';
import { RegistryClient } from './registry-client.js';
import { ociArchitecture, pullImage } from './registry-transfer.js';

const BASE_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ResolvedBase {
  name: string;
  /** The base manifest's digest (the `org.opencontainers.image.base.digest` annotation). */
  digest: string;
  config: ImageConfig;
  layers: Descriptor[];
  /** Whether the base was already in the store. */
  cached: boolean;
}

export interface BaseContext {
  store: ImageStore;
  cache: LayerCache;
  /** Where resolved `host:node` bases are remembered by their quick key. */
  basesDir: string;
  /** Folder that relative `oci:` paths resolve against (the spec's folder). */
  dir: string;
  /** Real folder an `oci:` layout must lie in (the project folder); unchecked when absent. */
  root?: string;
  mtimeSec: number;
  credentials?: Credentials;
}

export async function resolveBase(base: string, ctx: BaseContext): Promise<ResolvedBase> {
  const spec = parseBaseSpec(base);
  try {
    return await resolveSpec(base, spec, ctx);
  } catch (error) {
    // The workspace not writable or full is not a problem of build.base.
    const system = fromSystemError(error, `resolving base ${base}`);
    if (system) throw system;
    const why = error instanceof Error ? error.message : String(error);
    const hint =
      error instanceof CairnError && error.code !== 'not_found' && error.hint
        ? error.hint
        : 'fix build.base: host:node, oci:PATH:REF, or REGISTRY/REPO@sha256:<digest>';
    const Kind = error instanceof CairnError && error.code !== 'not_found' ? CairnError : NotFoundError;
    const message = `resolving base ${base}: ${why}`;
    throw Kind === NotFoundError
      ? new NotFoundError(message, { hint, cause: error })
      : new CairnError((error as CairnError).code, message, { hint, cause: error });
  }
}

async function resolveSpec(name: string, spec: BaseSpec, ctx: BaseContext): Promise<ResolvedBase> {
  if (spec.kind === 'host-node') return hostNode(ctx);
  if (spec.kind === 'layout') {
    const source = openImageStore(containedLayout(ctx, spec.path));
    const descriptor = await source.resolve(spec.ref);
    return copyFrom(name, source, descriptor.digest, ctx.store);
  }
  if (await hasImage(ctx.store, spec.ref.digest)) return readBase(name, ctx.store, spec.ref.digest, true);
  const client = new RegistryClient({
    registry: spec.ref.registry,
    insecure: isLoopbackRegistry(spec.ref.registry),
    ...(ctx.credentials ? { credentials: ctx.credentials } : {}),
  });
  const pulled = await pullImage(ctx.store, spec.ref, client);
  return readBase(formatRegistryRef(spec.ref), ctx.store, pulled.descriptor.digest, false);
}

/** The folder of an `oci:` base, refused when it leads outside the project folder. */
function containedLayout(ctx: BaseContext, path: string): string {
  const dir = resolvePath(ctx.dir, path);
  if (ctx.root === undefined) return dir;
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return dir; // opening it reports the missing layout
  }
  if (!isInside(ctx.root, real))
    throw new ValidationError(`it leads to ${real}, outside the project folder ${ctx.root}`, [], {
      hint: 'copy the image layout into the project, or use a registry base pinned by digest',
    });
  return real;
}

async function hostNode(ctx: BaseContext): Promise<ResolvedBase> {
  const record = join(
    ctx.basesDir,
    `${digestHex(jsonDigest({ key: hostNodeQuickKey(), mtimeSec: ctx.mtimeSec }))}.json`,
  );
  const known = await readFile(record, 'utf8').then(
    (t) => (JSON.parse(t) as { digest: string }).digest,
    () => undefined,
  );
  if (known && (await hasImage(ctx.store, known))) return readBase(HOST_NODE_BASE, ctx.store, known, true);
  const base = await assembleHostNode(ctx);
  await writeFileAtomic(
    record,
    Buffer.from(JSON.stringify({ digest: base.digest })),
    join(ctx.basesDir, '.tmp'),
  );
  return base;
}

async function assembleHostNode(ctx: BaseContext): Promise<ResolvedBase> {
  const plan = planHostNode();
  const layer = await ctx.cache.layer({
    createdBy: `cairn: base ${HOST_NODE_BASE}`,
    key: plan.key,
    entries: () => hostNodeEntries(plan),
    mtimeSec: ctx.mtimeSec,
  });
  const docs = baseDocuments(layer, { architecture: ociArchitecture(), os: 'linux' }, [BASE_PATH]);
  await ctx.store.putBlob(docs.configBytes, MEDIA_TYPE.config);
  const manifest = await ctx.store.putBlob(docs.manifestBytes, MEDIA_TYPE.manifest);
  return {
    name: HOST_NODE_BASE,
    digest: manifest.digest,
    config: docs.config,
    layers: docs.manifest.layers,
    cached: layer.cached,
  };
}

async function copyFrom(
  name: string,
  source: ImageStore,
  digest: string,
  store: ImageStore,
): Promise<ResolvedBase> {
  const cached = await hasImage(store, digest);
  if (!cached) {
    const manifest = await source.readManifest(digest);
    for (const blob of [manifest.config, ...manifest.layers]) {
      if (!(await store.hasBlob(blob.digest)))
        await store.putBlob(await source.readBlob(blob.digest), blob.mediaType);
    }
    await store.putBlob(await source.readBlob(digest), manifest.mediaType ?? MEDIA_TYPE.manifest);
  }
  return readBase(name, store, digest, cached);
}

async function hasImage(store: ImageStore, digest: string): Promise<boolean> {
  if (!(await store.hasBlob(digest))) return false;
  const manifest = await store.readManifest(digest);
  for (const blob of [manifest.config, ...manifest.layers])
    if (!(await store.hasBlob(blob.digest))) return false;
  return true;
}

async function readBase(
  name: string,
  store: ImageStore,
  digest: string,
  cached: boolean,
): Promise<ResolvedBase> {
  const manifest: OciManifest = await store.readManifest(digest);
  const config = JSON.parse((await store.readBlob(manifest.config.digest)).toString('utf8')) as ImageConfig;
  const layers = manifest.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }));
  return { name, digest, config, layers, cached };
}
