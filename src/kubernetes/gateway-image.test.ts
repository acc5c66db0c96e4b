import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLayer, openImageStore } from '../artifact/index.js';
import { readImageFiles } from '../artifact/sbom-layers.js';
import { sha256Digest } from '../lib/index.js';
import { generateKeyPair, parsePrivateKey, publicKeyOf, verifyImage } from '../trust/index.js';
import { buildGatewayImage, GATEWAY_IMAGE_ENTRYPOINT, gatewayEntries } from './gateway-image.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-gateway-image-'));
const bundle = join(dir, 'main.js');
writeFileSync(bundle, 'console.log("the gateway pod");\n');
const key = parsePrivateKey(generateKeyPair().privateKeyPem, 'test key');
const now = () => new Date('2026-01-02T03:04:05Z');

/** A build into a fresh store with a fresh cache: nothing is reused from an earlier build. */
const buildFresh = (name: string, bundleFile = bundle) =>
  buildGatewayImage({ store: openImageStore(join(dir, name, 'store')), key, bundleFile, now });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the gateway image', () => {
  it('is content-addressed: two builds from nothing give the same digest, another program another', async () => {
    const [one, two] = [await buildFresh('one'), await buildFresh('two')];
    expect(one.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(two.digest).toBe(one.digest);
    const otherBundle = join(dir, 'other.js');
    writeFileSync(otherBundle, 'console.log("another gateway");\n');
    expect((await buildFresh('three', otherBundle)).digest).not.toBe(one.digest);
  }, 120_000);

  it('runs node /gateway/main.js as the non-root user, with the program in the image', async () => {
    const store = openImageStore(join(dir, 'one', 'store'));
    const image = await buildGatewayImage({ store, key, bundleFile: bundle, now });
    expect(image.config.config?.Entrypoint).toEqual(GATEWAY_IMAGE_ENTRYPOINT);
    expect(image.config.config?.User).toBe('65532:65532');
    expect(image.uid).toBe(65532);
    const files = await readImageFiles(store, image.digest);
    expect(files.some((f) => f.path === '/gateway/main.js')).toBe(true);
    // The program layer holds exactly the bundle's bytes.
    const programLayer = await buildLayer(gatewayEntries(readFileSync(bundle)), 0);
    expect((await store.readManifest(image.digest)).layers.at(-1)?.digest).toBe(
      sha256Digest(programLayer.gzip),
    );
    expect(files.some((f) => f.path === '/usr/bin/node')).toBe(true);
    expect((await store.resolve('cairn-gateway:latest')).digest).toBe(image.digest);
  }, 120_000);

  it('is signed by the workspace key, with SBOM and provenance, and verifies', async () => {
    const store = openImageStore(join(dir, 'one', 'store'));
    const image = await buildGatewayImage({ store, key, bundleFile: bundle, now });
    const report = await verifyImage(store, image.digest, [publicKeyOf(key)]);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.verified).toBe(true);
    const stranger = parsePrivateKey(generateKeyPair().privateKeyPem, 'other key');
    expect((await verifyImage(store, image.digest, [publicKeyOf(stranger)])).verified).toBe(false);
  }, 120_000);

  it('says to run the build when the program is missing', async () => {
    await expect(buildFresh('four', join(dir, 'missing.js'))).rejects.toThrow(
      /building the gateway image: cannot read its program/,
    );
  });
});
