import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../lib/index.js';
import {
  bundleReferrer,
  EMPTY_DESCRIPTOR,
  KEY_ID_ANNOTATION,
  PREDICATE_TYPE_ANNOTATION,
  referrersTag,
  signatureLayer,
  withReferrer,
  withSignatureLayer,
} from './signature-manifests.js';

const IMAGE = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: sha256Digest('image'),
  size: 10,
};
const payload = {
  mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
  digest: sha256Digest('p'),
  size: 1,
};

describe('signature manifests', () => {
  it('names the referrers tag after the digest and points artifact configs at {}', () => {
    expect(referrersTag(IMAGE.digest)).toBe(`sha256-${IMAGE.digest.slice(7)}`);
    expect(EMPTY_DESCRIPTOR.digest).toBe(
      'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    );
  });

  it('replaces a re-signature by the same key and keeps other keys’ signatures', () => {
    const a1 = signatureLayer(payload, 'c2lnMQ==', 'key-a');
    const b = signatureLayer(payload, 'c2lnMg==', 'key-b');
    const a2 = signatureLayer(payload, 'c2lnMw==', 'key-a');
    const layers = withSignatureLayer(withSignatureLayer(withSignatureLayer([], a1), b), a2);
    expect(layers).toEqual([b, a2]);
  });

  it('makes a referrer whose subject is the image and keeps one attestation per type and key', () => {
    const bundle = {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      digest: sha256Digest('b'),
      size: 5,
    };
    const referrer = bundleReferrer(IMAGE, bundle, 'https://slsa.dev/provenance/v1', 'key-a');
    expect(referrer.subject).toEqual(IMAGE);
    expect(referrer.artifactType).toBe(bundle.mediaType);
    const entry = (digest: string, type: string, key: string) => ({
      ...IMAGE,
      digest,
      annotations: { [PREDICATE_TYPE_ANNOTATION]: type, [KEY_ID_ANNOTATION]: key },
    });
    let index = withReferrer(undefined, entry(sha256Digest('1'), 'slsa', 'key-a'));
    index = withReferrer(index, entry(sha256Digest('2'), 'sbom', 'key-a'));
    index = withReferrer(index, entry(sha256Digest('3'), 'slsa', 'key-b'));
    index = withReferrer(index, entry(sha256Digest('4'), 'slsa', 'key-a'));
    expect(index.manifests.map((m) => m.digest)).toEqual([
      sha256Digest('2'),
      sha256Digest('3'),
      sha256Digest('4'),
    ]);
  });
});
