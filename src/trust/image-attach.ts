/**
 * Writes signatures and attestations next to an image in the local store, and reads them back:
 * the cosign `.sig` tag and the referrers index of Sigstore bundles.
 */
import {
  type Descriptor,
  type ImageStore,
  MEDIA_TYPE,
  type OciIndex,
  type OciManifest,
} from '../artifact/index.js';
import { NotFoundError } from '../lib/index.js';
import { BUNDLE_MEDIA_TYPE, envelopeToBundle } from './bundle.js';
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from './dsse.js';
import type { SigningKey } from './key-pair.js';
import { signBytes } from './signature.js';
import {
  bundleReferrer,
  EMPTY_JSON,
  EMPTY_MEDIA_TYPE,
  KEY_ID_ANNOTATION,
  PREDICATE_TYPE_ANNOTATION,
  referrersTag,
  signatureConfig,
  signatureLayer,
  signatureManifest,
  withReferrer,
  withSignatureLayer,
} from './signature-manifests.js';
import {
  SIMPLE_SIGNING_MEDIA_TYPE,
  type SimpleSigning,
  signatureTag,
  simpleSigningPayload,
} from './simple-signing.js';

type SimpleSigningDoc = Partial<SimpleSigning> | null;

import type { Statement } from './statement.js';

async function putJson(store: ImageStore, value: unknown, mediaType: string): Promise<Descriptor> {
  return store.putBlob(Buffer.from(JSON.stringify(value)), mediaType);
}

/** The descriptor a ref names, or undefined when the store has no such ref. */
async function resolveRef(store: ImageStore, ref: string): Promise<Descriptor | undefined> {
  const entry = (await store.list()).find((e) => e.ref === ref);
  return entry?.descriptor;
}

/**
 * Signs the image's manifest digest the cosign way: a simple-signing payload whose signature goes
 * in a layer annotation of the manifest tagged `sha256-<hex>.sig` (added to any signatures there).
 */
export async function addCosignSignature(
  store: ImageStore,
  image: Descriptor,
  key: SigningKey,
  reference: string,
): Promise<Descriptor> {
  const payload = simpleSigningPayload(reference, image.digest);
  const payloadDescriptor = await store.putBlob(payload, SIMPLE_SIGNING_MEDIA_TYPE);
  const layer = signatureLayer(payloadDescriptor, signBytes(key, payload).toString('base64'), key.keyId);
  const tag = signatureTag(image.digest);
  const existing = await resolveRef(store, tag);
  const previous = existing ? (await store.readManifest(existing.digest)).layers : [];
  const layers = withSignatureLayer(previous, layer);
  const config = await store.putBlob(signatureConfig(layers), MEDIA_TYPE.config);
  const manifest = await putJson(store, signatureManifest(config, layers), MEDIA_TYPE.manifest);
  await store.tag(tag, manifest);
  return manifest;
}

/** Signs a statement into a DSSE bundle and attaches it to the image as a referrer. */
export async function addAttestation(
  store: ImageStore,
  image: Descriptor,
  statement: Statement,
  key: SigningKey,
): Promise<Descriptor> {
  const envelope = signEnvelope(INTOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(statement)), key);
  const bundle = await putJson(store, envelopeToBundle(envelope), BUNDLE_MEDIA_TYPE);
  await store.putBlob(EMPTY_JSON, EMPTY_MEDIA_TYPE);
  const referrer = bundleReferrer(image, bundle, statement.predicateType, key.keyId);
  const stored = await putJson(store, referrer, MEDIA_TYPE.manifest);
  const entry: Descriptor = {
    ...stored,
    artifactType: BUNDLE_MEDIA_TYPE,
    ...(referrer.annotations ? { annotations: referrer.annotations } : {}),
  };
  const tag = referrersTag(image.digest);
  const current = await readReferrersIndex(store, image.digest);
  await store.tag(tag, await putJson(store, withReferrer(current, entry), MEDIA_TYPE.index));
  return stored;
}

/** The referrers index of an image, or undefined when nothing refers to it. */
export async function readReferrersIndex(
  store: ImageStore,
  imageDigest: string,
): Promise<OciIndex | undefined> {
  const descriptor = await resolveRef(store, referrersTag(imageDigest));
  if (!descriptor) return undefined;
  return JSON.parse((await store.readBlob(descriptor.digest)).toString('utf8')) as OciIndex;
}

/** The cosign signature manifest of an image, or undefined when it has none. */
export async function readSignatureManifest(
  store: ImageStore,
  imageDigest: string,
): Promise<OciManifest | undefined> {
  const descriptor = await resolveRef(store, signatureTag(imageDigest));
  return descriptor ? store.readManifest(descriptor.digest) : undefined;
}

/** Reads a referrer's bundle JSON (the blob is checked against its digest). */
export async function readReferrerBundle(
  store: ImageStore,
  referrer: Descriptor,
): Promise<{ manifest: OciManifest; bundle: unknown }> {
  const manifest = await store.readManifest(referrer.digest);
  const layer = manifest.layers.find((l) => l.mediaType === BUNDLE_MEDIA_TYPE);
  if (!layer) throw new NotFoundError(`reading referrer ${referrer.digest}: it holds no sigstore bundle`);
  return { manifest, bundle: JSON.parse((await store.readBlob(layer.digest)).toString('utf8')) as unknown };
}

/** What is attached to an image, as stored (not verified: that is `verifyImage`'s job). */
export interface AttachedTrust {
  /** cosign signatures: who (key id annotation) signed which payload, naming which reference. */
  signatures: Array<{ keyId?: string; reference?: string; payload: string }>;
  /** Referrers: which predicate, by which key, in which manifest. */
  attestations: Array<{ predicateType?: string; keyId?: string; referrer: string }>;
}

/** Lists an image's signatures and attestations for display (`cairn inspect`). */
export async function listAttached(store: ImageStore, imageDigest: string): Promise<AttachedTrust> {
  const sig = await readSignatureManifest(store, imageDigest);
  const signatures = await Promise.all(
    (sig?.layers ?? []).map(async (layer) => {
      const doc = JSON.parse((await store.readBlob(layer.digest)).toString('utf8')) as SimpleSigningDoc;
      const keyId = layer.annotations?.[KEY_ID_ANNOTATION];
      const reference = doc?.critical?.identity?.['docker-reference'];
      return { ...(keyId ? { keyId } : {}), ...(reference ? { reference } : {}), payload: layer.digest };
    }),
  );
  const index = await readReferrersIndex(store, imageDigest);
  const attestations = (index?.manifests ?? []).map((m) => {
    const predicateType = m.annotations?.[PREDICATE_TYPE_ANNOTATION];
    const keyId = m.annotations?.[KEY_ID_ANNOTATION];
    return { ...(predicateType ? { predicateType } : {}), ...(keyId ? { keyId } : {}), referrer: m.digest };
  });
  return { signatures, attestations };
}
