import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildLayer,
  createLayoutPublisher,
  createRegistryPublisher,
  type Descriptor,
  type ImagePublisher,
  type ImageStore,
  MEDIA_TYPE,
  openImageStore,
} from '../../src/artifact/index.js';

// One conformance case, run against every ImagePublisher: a real OCI layout and a real registry.
const READY_TIMEOUT_MS = 15_000;
const work = mkdtempSync(join(tmpdir(), 'cairn-publisher-'));
let registryPort = 0;
let registry: ChildProcess | undefined;

async function startRegistry(): Promise<void> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  registryPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  writeFileSync(
    join(work, 'registry.yml'),
    `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(work, 'registry')} } }\nhttp: { addr: 127.0.0.1:${registryPort} }\n`,
  );
  registry = spawn('docker-registry', ['serve', join(work, 'registry.yml')], { stdio: 'ignore' });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (
      await fetch(`http://127.0.0.1:${registryPort}/v2/`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('docker-registry did not start');
}

/** A small two-layer image, with a layer big enough to be uploaded in chunks by the registry publisher. */
async function smallImage(store: ImageStore): Promise<Descriptor> {
  const big = randomBytes(3 * 1024 * 1024);
  const layers = [
    await buildLayer([{ path: 'data/big.bin', type: 'file', mode: 0o644, data: big }], 0),
    await buildLayer([{ path: 'app/hi.txt', type: 'file', mode: 0o644, data: Buffer.from('hi\n') }], 0),
  ];
  const descriptors = await Promise.all(layers.map((l) => store.putBlob(l.gzip, MEDIA_TYPE.layerGzip)));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: await store.putBlob(config, MEDIA_TYPE.config),
    layers: descriptors,
  };
  return store.putBlob(Buffer.from(JSON.stringify(manifest)), MEDIA_TYPE.manifest);
}

const publishers: Array<[string, () => ImagePublisher, () => string]> = [
  [
    'layout',
    () => createLayoutPublisher({ dir: join(work, 'out'), ref: 'small:v1' }),
    () => `oci:${join(work, 'out')}:small:v1`,
  ],
  [
    'registry',
    () =>
      createRegistryPublisher({
        target: { registry: `127.0.0.1:${registryPort}`, repository: 'small', tag: 'v1' },
        insecure: true,
        chunkBytes: 1024 * 1024,
      }),
    () => `docker://127.0.0.1:${registryPort}/small:v1`,
  ],
];

beforeAll(startRegistry);
afterAll(async () => {
  registry?.kill('SIGTERM');
  await new Promise((r) => (registry?.exitCode !== null ? r(null) : registry.once('exit', r)));
  rmSync(work, { recursive: true, force: true });
});

describe.each(publishers)('ImagePublisher conformance: %s', (kind, create, skopeoRef) => {
  it('Given an image in the store, when published twice, then skopeo sees its digest and the second time copies nothing', async () => {
    const store = openImageStore(join(work, `store-${kind}`));
    const image = await smallImage(store);
    const publisher = create();
    expect(publisher.kind).toBe(kind);
    const seen = new Set<string>();
    const first = await publisher.publish(store, image, (digest, done, total) => {
      if (done === total) seen.add(digest);
    });
    expect(first.digest).toBe(image.digest);
    expect(first.uploaded).toHaveLength(3);
    expect(seen.size).toBe(3);
    const info = JSON.parse(
      execFileSync('skopeo', ['inspect', '--tls-verify=false', skopeoRef()], { encoding: 'utf8' }),
    );
    expect(info.Digest).toBe(image.digest);
    const second = await publisher.publish(store, image);
    expect(second.uploaded).toEqual([]);
    expect(second.skipped).toHaveLength(3);
  });
});
