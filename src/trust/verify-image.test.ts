import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildLayer,
  type Descriptor,
  type ImageStore,
  MEDIA_TYPE,
  openImageStore,
} from '../artifact/index.js';
import { validateSbom } from '../artifact/sbom.js';
import { signatureFailures } from '../gates/signature-gate.js';
import type { LoadedSpec } from '../spec/index.js';
import { attestImage } from './attest-image.js';
import { verifyBundle } from './bundle.js';
import { envelopePayload } from './dsse.js';
import { addAttestation, listAttached, readReferrerBundle, readReferrersIndex } from './image-attach.js';
import { loadPublicKey, loadSigningKey, writeKeyPair } from './key-files.js';
import { generateKeyPair, type PublicKeyInfo, type SigningKey } from './key-pair.js';
import { CYCLONEDX_PREDICATE_TYPE, imageStatement, parseStatement, type Statement } from './statement.js';
import { verifyForEnvironment } from './trust-policy.js';
import { verifyImage } from './verify-image.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-verify-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const file = (path: string, data: Buffer) => ({ path, type: 'file' as const, mode: 0o644, data });

async function putImage(store: ImageStore, layers: Array<ReturnType<typeof file>[]>): Promise<Descriptor> {
  const built = await Promise.all(layers.map((entries) => buildLayer(entries, 0)));
  const descriptors = await Promise.all(built.map((l) => store.putBlob(l.gzip, MEDIA_TYPE.layerGzip)));
  const config = json({
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: built.map((l) => l.diffId) },
  });
  const configDescriptor = await store.putBlob(config, MEDIA_TYPE.config);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: configDescriptor,
    layers: descriptors,
  };
  return store.putBlob(json(manifest), MEDIA_TYPE.manifest);
}

const BASE = [
  file('usr/lib/libfake.so.1', Buffer.from('not really a library')),
  file('app/node_modules/left-pad/package.json', json({ name: 'left-pad', version: '1.3.0' })),
];
const EXTRA = [file('app/node_modules/evil/package.json', json({ name: 'evil', version: '6.6.6' }))];

async function sbomStatement(store: ImageStore, image: string, trusted: PublicKeyInfo[]): Promise<Statement> {
  const index = (await readReferrersIndex(store, image))!;
  const entry = index.manifests.find(
    (m) => m.annotations?.['dev.sigstore.bundle.predicateType'] === CYCLONEDX_PREDICATE_TYPE,
  )!;
  const { bundle } = await readReferrerBundle(store, entry);
  return parseStatement(envelopePayload(verifyBundle(bundle, trusted).envelope), 'sbom');
}

describe('verifyImage on a small image', () => {
  let store: ImageStore;
  let key: SigningKey;
  let pub: PublicKeyInfo;
  let image: Descriptor;

  beforeAll(async () => {
    store = openImageStore(join(dir, 'store'));
    const files = writeKeyPair(join(dir, 'keys'), 'cairn', generateKeyPair('ed25519'));
    key = loadSigningKey(files.privateKeyFile).key;
    pub = loadPublicKey(files.publicKeyFile);
    image = await putImage(store, [BASE]);
    await attestImage(store, image.digest, {
      key,
      reference: 'small',
      now: () => new Date('2026-01-01T00:00:00Z'),
    });
  });

  it('passes every check for the key that attested it', async () => {
    const report = await verifyImage(store, image.digest, [pub]);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.checks.find((c) => c.name === 'sbom')?.detail).toBe(
      'the sbom lists the 2 component(s) the layers contain',
    );
  });

  it('lists what is attached, by predicate and key, for display', async () => {
    const attached = await listAttached(store, image.digest);
    expect(attached.signatures).toEqual([
      { keyId: pub.keyId, reference: 'small', payload: expect.stringMatching(/^sha256:/) },
    ]);
    expect(attached.attestations.map((a) => [a.predicateType, a.keyId])).toEqual([
      ['https://sigstore.dev/cosign/sign/v1', pub.keyId],
      ['https://cyclonedx.org/bom', pub.keyId],
      ['https://slsa.dev/provenance/v1', pub.keyId],
    ]);
  });

  it('attaches an SBOM that the strict CycloneDX schema accepts', async () => {
    const statement = await sbomStatement(store, image.digest, [pub]);
    expect(await validateSbom(JSON.stringify(statement.predicate))).toBeUndefined();
  });

  it('fails the sbom check when the layers hold a package the SBOM does not list', async () => {
    const bigger = await putImage(store, [BASE, EXTRA]);
    const other = await attestImage(store, bigger.digest, { key, reference: 'bigger' });
    expect(other.components).toBe(3);
    // re-attest the bigger image with the smaller image's (validly signed) SBOM
    const small = await sbomStatement(store, image.digest, [pub]);
    await addAttestation(
      store,
      bigger,
      imageStatement('bigger', bigger.digest, CYCLONEDX_PREDICATE_TYPE, small.predicate),
      key,
    );
    const report = await verifyImage(store, bigger.digest, [pub]);
    expect(report.verified).toBe(false);
    expect(report.checks.find((c) => c.name === 'sbom')?.detail).toBe(
      'npm package evil@6.6.6 at /app/node_modules/evil is not in the sbom',
    );
  });

  it('reports but does not fail on an optional attestation by another key; a required one fails', async () => {
    const img = await putImage(store, [BASE, [file('app/extra.txt', json({ n: 1 }))]]);
    await attestImage(store, img.digest, { key, reference: 'optional' });
    const stranger = loadSigningKey(
      writeKeyPair(join(dir, 'stranger'), 'stranger', generateKeyPair('ed25519')).privateKeyFile,
    ).key;
    const scan = imageStatement(
      'optional',
      img.digest,
      'https://cosign.sigstore.dev/attestation/vuln/v1',
      {},
    );
    await addAttestation(store, img, scan, stranger);
    const report = await verifyImage(store, img.digest, [pub]);
    expect(report.verified).toBe(true);
    expect(report.checks.find((c) => c.name === 'attestations')?.detail).toMatch(
      /^3 attestation\(s\) signed by trusted keys, all about this image; ignored 1 optional: https:\/\/cosign/,
    );
    const sbom = await sbomStatement(store, img.digest, [pub]);
    await addAttestation(
      store,
      img,
      imageStatement('optional', img.digest, CYCLONEDX_PREDICATE_TYPE, sbom.predicate),
      stranger,
    );
    expect((await verifyImage(store, img.digest, [pub])).verified).toBe(false);
  });

  it('enforces an environment trust policy only where keys are named', async () => {
    mkdirSync(join(dir, 'spec'), { recursive: true });
    writeFileSync(join(dir, 'spec/other.pub'), generateKeyPair().publicKeyPem);
    const environments = {
      dev: { trust: { keys: [] } },
      staging: { trust: { keys: ['../keys/cairn.pub'] } },
      prod: { trust: { keys: ['other.pub'] } },
    };
    const loaded = {
      spec: { environments },
      dir: join(dir, 'spec'),
      root: realpathSync(dir), // as with CAIRN_PROJECT_ROOT: the keys folder is beside the spec's
      file: join(dir, 'spec/cairn.yaml'),
    } as unknown as LoadedSpec;
    const dev = await verifyForEnvironment(store, image.digest, loaded, 'dev');
    expect([dev.verified, dev.enforced]).toEqual([true, false]);
    const staging = await verifyForEnvironment(store, image.digest, loaded, 'staging');
    expect([staging.verified, staging.enforced]).toEqual([true, true]);
    // The signature gate at deploy, promote and admission asks the same question.
    expect(await signatureFailures(store, loaded, 'dev', image.digest)).toBeUndefined();
    expect(await signatureFailures(store, loaded, 'staging', image.digest)).toEqual([]);
    const prod = await verifyForEnvironment(store, image.digest, loaded, 'prod');
    expect(prod.verified).toBe(false);
    expect(await signatureFailures(store, loaded, 'prod', image.digest)).toContainEqual({
      gate: 'signature',
      rule: 'signature',
      message: 'no trusted key made this signature',
    });
    await expect(verifyForEnvironment(store, image.digest, loaded, 'qa')).rejects.toThrow(
      /no such environment/,
    );
  });
});
