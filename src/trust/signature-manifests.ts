/**
 * The OCI documents that carry signatures next to an image, in the two standard places:
 * cosign's `sha256-<hex>.sig` tag (simple-signing layers with the signature in an annotation), and
 * OCI referrers (manifests whose `subject` is the image) listed in the referrers tag-schema index
 * `sha256-<hex>`, which works on every registry. Pure: documents in, documents out.
 */
import type { Descriptor, OciIndex, OciManifest } from '../artifact/index.js';
import { MEDIA_TYPE } from '../artifact/index.js';
import { sha256Digest } from '../lib/index.js';
import { COSIGN_SIGNATURE_ANNOTATION } from './simple-signing.js';

/** The empty config every artifact manifest points at (`{}`). */
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: EMPTY_MEDIA_TYPE,
  digest: sha256Digest(EMPTY_JSON),
  size: 2,
};
/** Which in-toto predicate a bundle referrer carries (the annotation cosign writes). */
export const PREDICATE_TYPE_ANNOTATION = 'dev.sigstore.bundle.predicateType';
export const BUNDLE_CONTENT_ANNOTATION = 'dev.sigstore.bundle.content';
/** The signer's key id, so a verifier can tell attestations by different keys apart without reading them. */
export const KEY_ID_ANNOTATION = 'dev.cairn.trust.keyid';

/** The referrers tag-schema tag of a manifest digest: `sha256-<hex>`. */
export function referrersTag(manifestDigest: string): string {
  return manifestDigest.replace(':', '-');
}

/** A cosign signature layer: the payload blob, annotated with its base64 signature and the signer's key id. */
export function signatureLayer(payload: Descriptor, signatureBase64: string, keyId: string): Descriptor {
  return {
    ...payload,
    annotations: { [COSIGN_SIGNATURE_ANNOTATION]: signatureBase64, [KEY_ID_ANNOTATION]: keyId },
  };
}

/** The config cosign writes for its signature image: no platform, one diff id per layer. */
export function signatureConfig(layers: Descriptor[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      os: '',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    }),
  );
}

export function signatureManifest(config: Descriptor, layers: Descriptor[]): OciManifest {
  return { schemaVersion: 2, mediaType: MEDIA_TYPE.manifest, config, layers };
}

/**
 * Adds a signature layer, replacing the earlier signature of the same payload by the same key
 * (ECDSA signatures differ each time, so re-signing must not pile up layers).
 */
export function withSignatureLayer(existing: Descriptor[], layer: Descriptor): Descriptor[] {
  const keyId = layer.annotations?.[KEY_ID_ANNOTATION];
  const same = (l: Descriptor) => l.digest === layer.digest && l.annotations?.[KEY_ID_ANNOTATION] === keyId;
  return [...existing.filter((l) => !same(l)), layer];
}

/** A referrer manifest: one bundle layer, `subject` = the image. */
export function bundleReferrer(
  subject: Descriptor,
  bundle: Descriptor,
  predicateType: string,
  keyId: string,
): OciManifest {
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    artifactType: bundle.mediaType,
    config: EMPTY_DESCRIPTOR,
    layers: [bundle],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      [PREDICATE_TYPE_ANNOTATION]: predicateType,
      [BUNDLE_CONTENT_ANNOTATION]: 'dsse-envelope',
      [KEY_ID_ANNOTATION]: keyId,
    },
  };
}

/**
 * The referrers index after adding one referrer: an attestation replaces the earlier one of the
 * same predicate type by the same key (a rebuild re-attests), others are kept.
 */
export function withReferrer(index: OciIndex | undefined, referrer: Descriptor): OciIndex {
  const annotations = referrer.annotations ?? {};
  const replaced = (d: Descriptor) =>
    d.digest === referrer.digest ||
    (d.annotations?.[PREDICATE_TYPE_ANNOTATION] === annotations[PREDICATE_TYPE_ANNOTATION] &&
      d.annotations?.[KEY_ID_ANNOTATION] === annotations[KEY_ID_ANNOTATION]);
  const kept = (index?.manifests ?? []).filter((d) => !replaced(d));
  return { schemaVersion: 2, mediaType: MEDIA_TYPE.index, manifests: [...kept, referrer] };
}
