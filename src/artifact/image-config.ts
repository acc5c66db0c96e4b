/** Assembles an image's config and manifest from its base and layers. Pure: plain data in, bytes out. */
import { canonicalJson, sha256Digest as sha } from '../lib/index.js';
import { CONFIG_FILES_LABEL } from '../spec/index.js';
import { ANNOTATION, type Descriptor, type ImageConfig, MEDIA_TYPE, type OciManifest } from './oci.js';

/** A layer as it goes into a manifest: its descriptor plus its diff_id and what made it. */
export interface BuiltLayer {
  descriptor: Descriptor;
  diffId: string;
  createdBy: string;
}

export interface ImageInputs {
  base: { config: ImageConfig; layers: Descriptor[]; digest: string; name: string };
  layers: BuiltLayer[];
  entrypoint: string[];
  env: Record<string, string>;
  workdir: string;
  user: number;
  port: number;
  /** Folders the run spec mounts on (tmpfs, volumes): recorded as `Volumes`, made by the runtime. */
  mountPoints?: string[];
  /** Paths configuration files are mounted at (any environment): recorded as a label, made by the runtime. */
  configFiles?: string[];
  /** SOURCE_DATE_EPOCH, seconds. */
  createdSec: number;
  /** The package version, when known; never the commit (see docs/build.md: reproducible across commits). */
  annotations: Record<string, string>;
}

/** An image config and manifest as the exact bytes that will be stored (canonical JSON). */
export interface ImageDocuments {
  config: ImageConfig;
  configBytes: Buffer;
  manifest: OciManifest;
  manifestBytes: Buffer;
}

/** `KEY=value` lines: the base's first, then the spec's (overriding), sorted by key. */
export function mergeEnv(baseEnv: string[] | undefined, env: Record<string, string>): string[] {
  const merged = new Map<string, string>();
  for (const line of baseEnv ?? []) {
    const eq = line.indexOf('=');
    if (eq > 0) merged.set(line.slice(0, eq), line.slice(eq + 1));
  }
  for (const [k, v] of Object.entries(env)) merged.set(k, v);
  return [...merged.keys()].sort().map((k) => `${k}=${merged.get(k)}`);
}

/** The annotations every cairn image carries: the caller's plus created and base digest/name. */
export function imageAnnotations(inputs: ImageInputs): Record<string, string> {
  return {
    ...inputs.annotations,
    [ANNOTATION.created]: new Date(inputs.createdSec * 1000).toISOString().replace('.000Z', 'Z'),
    [ANNOTATION.baseDigest]: inputs.base.digest,
    [ANNOTATION.baseName]: inputs.base.name,
  };
}

export function imageDocuments(inputs: ImageInputs): ImageDocuments {
  const annotations = imageAnnotations(inputs);
  const created = annotations[ANNOTATION.created]!;
  const baseConfig = inputs.base.config;
  const config: ImageConfig = {
    created,
    architecture: baseConfig.architecture,
    os: baseConfig.os,
    config: {
      User: `${inputs.user}:${inputs.user}`,
      Env: mergeEnv(baseConfig.config?.Env, inputs.env),
      Entrypoint: inputs.entrypoint,
      WorkingDir: inputs.workdir,
      ExposedPorts: { [`${inputs.port}/tcp`]: {} },
      ...(inputs.mountPoints?.length
        ? { Volumes: Object.fromEntries(inputs.mountPoints.map((p) => [p, {}])) }
        : {}),
      Labels: inputs.configFiles?.length
        ? { ...annotations, [CONFIG_FILES_LABEL]: JSON.stringify(inputs.configFiles) }
        : annotations,
    },
    rootfs: {
      type: 'layers',
      diff_ids: [...baseConfig.rootfs.diff_ids, ...inputs.layers.map((l) => l.diffId)],
    },
    history: [
      ...(baseConfig.history ?? baseConfig.rootfs.diff_ids.map(() => ({ created_by: inputs.base.name }))),
      ...inputs.layers.map((l) => ({ created, created_by: l.createdBy })),
    ],
  };
  const configBytes = Buffer.from(canonicalJson(config));
  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: { mediaType: MEDIA_TYPE.config, digest: sha(configBytes), size: configBytes.byteLength },
    layers: [...inputs.base.layers, ...inputs.layers.map((l) => l.descriptor)],
    annotations,
  };
  return { config, configBytes, manifest, manifestBytes: Buffer.from(canonicalJson(manifest)) };
}

/** A single-layer base image (host:node): config with the platform and PATH. */
export function baseDocuments(
  layer: BuiltLayer,
  platform: { architecture: string; os: string },
  env: string[],
) {
  const config: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    config: { Env: env },
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: layer.createdBy }],
  };
  const configBytes = Buffer.from(canonicalJson(config));
  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: { mediaType: MEDIA_TYPE.config, digest: sha(configBytes), size: configBytes.byteLength },
    layers: [layer.descriptor],
  };
  return { config, configBytes, manifest, manifestBytes: Buffer.from(canonicalJson(manifest)) };
}
