/**
 * `buildImage`: one service of cairn.yaml → an OCI image in the store, layer by layer — base,
 * dependencies, application, baked configuration — each reused from the layer cache when its
 * inputs did not change, and tagged `<service>:latest`.
 */
import { dirname, join } from 'node:path';
import { configFileTargets, type LoadedSpec, mountPaths } from '../spec/index.js';
import { type ResolvedBase, resolveBase } from './base-source.js';
import { type BuildInputs, DEFAULT_SOURCE_DATE_EPOCH, entriesKey, readBuildInputs } from './build-inputs.js';
import { depsLayerRequest, lockfileWarning } from './deps-layer.js';
import { type BuiltLayer, imageDocuments } from './image-config.js';
import { type CachedLayer, LayerCache, type LayerRequest } from './layer-cache.js';
import type { ImageStore } from './layout-store.js';
import { ANNOTATION, type Descriptor, type ImageConfig, MEDIA_TYPE, type OciManifest } from './oci.js';
import type { Credentials } from './registry-auth.js';

export interface BuildOptions {
  store: ImageStore;
  /** Where the layer and base caches live; default `<store>/../cache` (i.e. `.cairn/cache`). */
  cacheDir?: string;
  /** Seconds; every file time and the `created` date. Default 0 (or `$SOURCE_DATE_EPOCH` in the CLI). */
  sourceDateEpoch?: number;
  /** For pulling a registry base that needs auth. */
  credentials?: Credentials;
  /** Monotonic clock in ms, for `seconds`. */
  now?: () => number;
  /** Tag it `<service>:latest` (default); false leaves the naming to the caller (after its gates). */
  tag?: boolean;
}

export interface BuildLayerInfo {
  digest: string;
  size: number;
  cached: boolean;
  /** base | dependencies | application | files */
  role: string;
}

export interface BuildResult {
  service: string;
  /** The manifest digest: the image's identity. */
  digest: string;
  /** The store ref it was tagged with (`<service>:latest`). */
  ref: string;
  descriptor: Descriptor;
  manifest: OciManifest;
  config: ImageConfig;
  layers: BuildLayerInfo[];
  base: { name: string; digest: string };
  seconds: number;
  /** Things the user should know that did not stop the build (e.g. no lockfile). */
  warnings: string[];
}

/** The store ref of a service's latest build. */
export function serviceRef(service: string): string {
  return `${service}:latest`;
}

/** Builds one service's image into the store. Inputs are all read and checked before any write. */
export async function buildImage(
  loaded: LoadedSpec,
  service: string,
  opts: BuildOptions,
): Promise<BuildResult> {
  const now = opts.now ?? (() => performance.now());
  const started = now();
  const inputs = readBuildInputs(loaded, service);
  const mtimeSec = opts.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH;
  const workdir = inputs.spec.build.workdir;
  const lockWarning = lockfileWarning(inputs.context, service);
  const deps = depsLayerRequest(inputs.context, workdir, mtimeSec);
  const cacheDir = opts.cacheDir ?? join(dirname(opts.store.dir), 'cache');
  const cache = new LayerCache(opts.store, join(cacheDir, 'layers'));
  const base = await resolveBase(inputs.spec.build.base, {
    store: opts.store,
    cache,
    basesDir: join(cacheDir, 'bases'),
    dir: loaded.dir,
    root: loaded.root,
    mtimeSec,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
  });
  const built = await serviceLayers(cache, inputs, deps, mtimeSec);
  const docs = imageDocuments({
    base,
    layers: built.map((b) => b.layer as BuiltLayer),
    entrypoint: inputs.spec.build.entrypoint,
    env: inputs.spec.build.env,
    workdir,
    user: inputs.spec.build.user,
    port: inputs.spec.run.port,
    mountPoints: mountPaths(inputs.spec.run),
    configFiles: configFileTargets(inputs.spec),
    createdSec: mtimeSec,
    // No commit and no origin here: they change without the inputs changing (a commit to another
    // service, a clone over ssh), and would change the digest. Provenance and the SBOM carry them.
    annotations: inputs.version ? { [ANNOTATION.version]: inputs.version } : {},
  });
  await opts.store.putBlob(docs.configBytes, MEDIA_TYPE.config);
  const descriptor = await opts.store.putBlob(docs.manifestBytes, MEDIA_TYPE.manifest);
  const ref = serviceRef(service);
  if (opts.tag !== false) await opts.store.tag(ref, descriptor);
  return {
    service,
    digest: descriptor.digest,
    ref,
    descriptor,
    manifest: docs.manifest,
    config: docs.config,
    layers: [...baseLayers(base), ...built.map(({ role, layer }) => info(role, layer))],
    base: { name: base.name, digest: base.digest },
    seconds: Math.round(now() - started) / 1000,
    warnings: lockWarning ? [lockWarning] : [],
  };
}

type RoleLayer = { role: string; layer: CachedLayer };

/** Dependencies (when there is a lockfile), application, and files (when there are any), from the cache when unchanged. */
async function serviceLayers(
  cache: LayerCache,
  inputs: BuildInputs,
  deps: LayerRequest | undefined,
  mtimeSec: number,
): Promise<RoleLayer[]> {
  const built: RoleLayer[] = [];
  if (deps) built.push({ role: 'dependencies', layer: await cache.layer(deps) });
  const app = {
    createdBy: `cairn: application (${inputs.spec.build.workdir})`,
    key: entriesKey(inputs.app),
    mtimeSec,
  };
  built.push({ role: 'application', layer: await cache.layer({ ...app, entries: () => inputs.app }) });
  if (inputs.files.length > 0) {
    const files = { createdBy: 'cairn: configuration files', key: entriesKey(inputs.files), mtimeSec };
    built.push({ role: 'files', layer: await cache.layer({ ...files, entries: () => inputs.files }) });
  }
  return built;
}

function baseLayers(base: ResolvedBase): BuildLayerInfo[] {
  return base.layers.map((l) => ({ digest: l.digest, size: l.size, cached: base.cached, role: 'base' }));
}

function info(role: string, layer: CachedLayer): BuildLayerInfo {
  return { digest: layer.descriptor.digest, size: layer.descriptor.size, cached: layer.cached, role };
}
