/**
 * Signing and attesting an image in the store: the signature (cosign `.sig` and a DSSE bundle),
 * the SBOM computed from what the layers contain, and SLSA v1 provenance, each an in-toto
 * statement about the manifest digest, signed with the same key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANNOTATION, type Descriptor, type ImageStore } from '../artifact/index.js';
import { slsaProvenance } from '../artifact/provenance.js';
import { fileDigest, gitSourceOf, repoRelativePath } from '../artifact/provenance-source.js';
import { buildSbom } from '../artifact/sbom.js';
import { debianPackagesOf } from '../artifact/sbom-debian.js';
import { type ImageFile, type Inventory, inventoryOf } from '../artifact/sbom-inventory.js';
import { readImageFiles } from '../artifact/sbom-layers.js';
import { sha256Hex, ulid } from '../lib/index.js';
import type { LoadedSpec } from '../spec/index.js';
import { addAttestation, addCosignSignature } from './image-attach.js';
import type { SigningKey } from './key-pair.js';
import {
  CYCLONEDX_PREDICATE_TYPE,
  imageStatement,
  SIGN_PREDICATE_TYPE,
  SLSA_PROVENANCE_V1,
} from './statement.js';

const CAIRN_VERSION = '0.1.0';

export interface SignResult {
  /** The cosign signature manifest (tagged `sha256-<hex>.sig`). */
  signature: Descriptor;
  /** The referrer manifest holding the signature bundle. */
  bundle: Descriptor;
}

/** Signs an image both ways: cosign simple signing under `.sig`, and a DSSE bundle referrer. */
export async function signImage(
  store: ImageStore,
  imageOrDigest: Descriptor | string,
  key: SigningKey,
  reference: string,
): Promise<SignResult> {
  const image = typeof imageOrDigest === 'string' ? await store.resolve(imageOrDigest) : imageOrDigest;
  const signature = await addCosignSignature(store, image, key, reference);
  const statement = imageStatement(reference, image.digest, SIGN_PREDICATE_TYPE, {});
  const bundle = await addAttestation(store, image, statement, key);
  return { signature, bundle };
}

export interface AttestOptions {
  key: SigningKey;
  /** How signatures name the image (`docker-reference`), e.g. the service or a registry ref. */
  reference: string;
  /** The spec and service it was built from, for provenance. */
  spec?: LoadedSpec;
  service?: string;
  startedOn?: Date;
  finishedOn?: Date;
  /** The clock, passed in (tests pin it). */
  now?: () => Date;
}

export interface AttestResult extends SignResult {
  sbom: Descriptor;
  provenance: Descriptor;
  /** How many components the SBOM lists. */
  components: number;
}

/** Host files whose bytes are the image's: only those can be attributed to a Debian package. */
function copiedFromHost(inventory: Inventory, files: ImageFile[]): string[] {
  const hashes = new Map(files.filter((f) => f.data).map((f) => [f.path, sha256Hex(f.data!)]));
  return [...inventory.runtimes, ...inventory.libraries]
    .map((f) => f.path)
    .filter((path) => existsSync(path) && sha256Hex(readFileSync(path)) === hashes.get(path));
}

async function sbomStatement(store: ImageStore, image: Descriptor, opts: AttestOptions) {
  const files = await readImageFiles(store, image.digest);
  const inventory = inventoryOf(files);
  const debian = debianPackagesOf(copiedFromHost(inventory, files));
  const now = opts.finishedOn ?? opts.now?.() ?? new Date();
  const git = opts.spec ? gitSourceOf(opts.spec.file) : undefined;
  const text = buildSbom(inventory, {
    ...(git ? { sourceCommit: git.dirty ? `${git.commit}-dirty` : git.commit } : {}),
    imageDigest: image.digest,
    imageName: opts.service ?? opts.reference,
    timestamp: now,
    debian,
    toolVersion: CAIRN_VERSION,
  });
  const bom = JSON.parse(text) as { components?: unknown[] };
  const statement = imageStatement(opts.reference, image.digest, CYCLONEDX_PREDICATE_TYPE, bom);
  return { statement, components: bom.components?.length ?? 0 };
}

async function provenanceStatement(store: ImageStore, image: Descriptor, opts: AttestOptions) {
  const annotations = (await store.readManifest(image.digest)).annotations ?? {};
  const now = opts.now?.() ?? new Date();
  const spec = opts.spec;
  const git = spec ? gitSourceOf(spec.file) : undefined;
  const context = spec && opts.service ? spec.spec.services[opts.service]?.build.context : undefined;
  const lockfile = spec && context ? join(spec.dir, context, 'package-lock.json') : undefined;
  const lockDigest = lockfile ? fileDigest(lockfile) : undefined;
  const baseName = annotations[ANNOTATION.baseName];
  const predicate = slsaProvenance({
    service: opts.service ?? opts.reference,
    specPath: spec ? repoRelativePath(spec.file, git?.root) : 'cairn.yaml',
    specDigest: spec?.digest ?? image.digest,
    ...(git
      ? { git: { commit: git.commit, dirty: git.dirty, ...(git.origin ? { origin: git.origin } : {}) } }
      : {}),
    ...(baseName ? { base: { name: baseName, digest: annotations[ANNOTATION.baseDigest] } } : {}),
    ...(lockfile && lockDigest
      ? { lockfile: { path: repoRelativePath(lockfile, git?.root), digest: lockDigest } }
      : {}),
    invocationId: `cairn-build-${ulid(now.getTime()).toLowerCase()}`,
    startedOn: opts.startedOn ?? now,
    finishedOn: opts.finishedOn ?? now,
    cairnVersion: CAIRN_VERSION,
  });
  return imageStatement(opts.reference, image.digest, SLSA_PROVENANCE_V1, predicate);
}

/**
 * What `cairn build` calls when a signing key is configured: signs the image and attaches its
 * SBOM and SLSA provenance, all as referrers of the manifest digest.
 * @example
 * const { key } = loadSigningKey('.cairn/keys/cairn.key');
 * await attestImage(store, result.digest, { key, reference: 'hello', spec: loaded, service: 'hello' });
 */
export async function attestImage(
  store: ImageStore,
  imageOrDigest: Descriptor | string,
  opts: AttestOptions,
): Promise<AttestResult> {
  const image = typeof imageOrDigest === 'string' ? await store.resolve(imageOrDigest) : imageOrDigest;
  const signed = await signImage(store, image, opts.key, opts.reference);
  const { statement, components } = await sbomStatement(store, image, opts);
  const sbom = await addAttestation(store, image, statement, opts.key);
  const provenance = await addAttestation(
    store,
    image,
    await provenanceStatement(store, image, opts),
    opts.key,
  );
  return { ...signed, sbom, provenance, components };
}
