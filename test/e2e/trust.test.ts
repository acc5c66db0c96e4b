/**
 * Signed, attested images end to end: keygen → build → sign → push → pull into an empty store →
 * verify, against a real docker-registry; then every kind of tampering makes `cairn verify` exit 3.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageStore, openImageStore, RegistryClient } from '../../src/artifact/index.js';
import { validateSbom } from '../../src/artifact/sbom.js';
import {
  addAttestation,
  CYCLONEDX_PREDICATE_TYPE,
  envelopePayload,
  imageStatement,
  loadPublicKey,
  loadSigningKey,
  parseStatement,
  pullSignatures,
  pushSignatures,
  readReferrerBundle,
  readReferrersIndex,
  referrersTag,
  signatureTag,
  verifyBundle,
  verifyImage,
} from '../../src/trust/index.js';
import { type CliResult, cairn, REPO_ROOT } from '../helpers/cli.js';

const temps: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
};
let registry: ChildProcess | undefined;
let registryAddr = '';

afterAll(() => {
  registry?.kill('SIGTERM');
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startRegistry(): Promise<string> {
  const dir = tempDir('cairn-trust-registry-');
  const addr = `127.0.0.1:${await freePort()}`;
  const config = `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${dir}/data } }\nhttp: { addr: "${addr}" }\n`;
  writeFileSync(join(dir, 'config.yml'), config);
  registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const up = await fetch(`http://${addr}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return addr;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('docker-registry did not start');
}

function ok(r: CliResult): string {
  expect(r.stderr.replace(/^warning: .*\n/gm, '')).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

function verifyJson(dir: string, image: string, key = '.cairn/keys/cairn.pub') {
  const r = cairn(['verify', image, '--key', key, '--output', 'json'], { cwd: dir });
  return {
    code: r.code,
    report: JSON.parse(r.stdout) as {
      verified: boolean;
      checks: Array<{ name: string; ok: boolean; detail: string }>;
    },
  };
}

function failed(report: {
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}): Record<string, string> {
  return Object.fromEntries(report.checks.filter((c) => !c.ok).map((c) => [c.name, c.detail]));
}

/** A copy of the signed project, so each tamper starts from a good image. */
function copyOf(dir: string): { dir: string; store: ImageStore } {
  const copy = tempDir('cairn-trust-copy-');
  cpSync(dir, copy, { recursive: true });
  return { dir: copy, store: openImageStore(join(copy, '.cairn/store')) };
}

function flipByte(file: string, at: (size: number) => number): void {
  chmodSync(file, 0o644);
  const bytes = readFileSync(file);
  const i = at(bytes.length);
  bytes[i] = bytes[i]! ^ 0x01;
  writeFileSync(file, bytes);
}

const blobFile = (dir: string, digest: string) => join(dir, '.cairn/store/blobs/sha256', digest.slice(7));

describe('signed images: build → sign → push → pull → verify', () => {
  let project: string;
  let imageA: string;
  let imageB: string;

  beforeAll(async () => {
    registryAddr = await startRegistry();
    project = tempDir('cairn-trust-');
    cpSync(join(REPO_ROOT, 'examples/hello'), project, { recursive: true });
    ok(cairn(['init'], { cwd: project }));
    ok(cairn(['keygen'], { cwd: project }));
    // with .cairn/keys/cairn.key present, build signs and attaches the SBOM and provenance itself
    const built = JSON.parse(ok(cairn(['build', '--output', 'json'], { cwd: project }))).images[0];
    expect(built.signed.sbomComponents).toBeGreaterThan(3);
    imageA = built.digest;
    ok(cairn(['sign', imageA], { cwd: project }));
    // a second image (another baked config), signed too: material for swap attacks
    const spec = readFileSync(join(project, 'cairn.yaml'), 'utf8').replace(
      'config/v1.json',
      'config/v2.json',
    );
    writeFileSync(join(project, 'cairn.yaml'), spec);
    imageB = JSON.parse(ok(cairn(['build', '--output', 'json'], { cwd: project }))).images[0].digest;
  }, 300_000);

  it('Given a signed, attested image, when verified with its public key, then every check passes', () => {
    const { code, report } = verifyJson(project, imageA);
    expect(report.checks.map((c) => c.name)).toEqual([
      'blobs',
      'signature',
      'signature-bundle',
      'attestations',
      'sbom',
      'provenance',
    ]);
    expect(failed(report)).toEqual({});
    expect(report.verified).toBe(true);
    expect(code).toBe(0);
  });

  it('Given the SBOM of examples/hello, then it is strict-valid CycloneDX naming node and the Debian packages of its libraries', async () => {
    const store = openImageStore(join(project, '.cairn/store'));
    const trusted = [loadPublicKey(join(project, '.cairn/keys/cairn.pub'))];
    const index = (await readReferrersIndex(store, imageA))!;
    const entry = index.manifests.find(
      (m) => m.annotations?.['dev.sigstore.bundle.predicateType'] === CYCLONEDX_PREDICATE_TYPE,
    )!;
    const { bundle } = await readReferrerBundle(store, entry);
    const statement = parseStatement(envelopePayload(verifyBundle(bundle, trusted).envelope), 'sbom');
    expect(await validateSbom(JSON.stringify(statement.predicate))).toBeUndefined();
    const purls = (statement.predicate as { components: Array<{ purl?: string }> }).components.map(
      (c) => c.purl,
    );
    expect(purls).toContain(`pkg:generic/node@${process.versions.node}`);
    expect(purls.some((p) => p?.startsWith('pkg:deb/debian/libc6@'))).toBe(true);
  });

  it('Given the image pushed to a registry, when pulled on a host with a workspace and no cairn.yaml, then it verifies there', async () => {
    expect(
      cairn(['push', imageA, '--to', `${registryAddr}/trust/hello:v1`, '--insecure'], { cwd: project }).code,
    ).toBe(0);
    const client = new RegistryClient({ registry: registryAddr, insecure: true });
    const source = openImageStore(join(project, '.cairn/store'));
    expect(await pushSignatures(source, imageA, 'trust/hello', client)).toEqual([
      signatureTag(imageA),
      referrersTag(imageA),
    ]);

    const empty = tempDir('cairn-trust-pulled-');
    const none = cairn(['images'], { cwd: empty });
    expect([none.code, none.stderr]).toEqual([
      1,
      expect.stringContaining(
        'finding a workspace: no cairn.yaml and no .cairn/ in this folder or its parents',
      ),
    ]);
    ok(cairn(['init'], { cwd: empty }));
    expect(cairn(['pull', `${registryAddr}/trust/hello@${imageA}`, '--insecure'], { cwd: empty }).code).toBe(
      0,
    );
    const target = openImageStore(join(empty, '.cairn/store'));
    expect(await pullSignatures(target, imageA, 'trust/hello', client)).toHaveLength(2);
    const pub = join(project, '.cairn/keys/cairn.pub');
    const { code, report } = verifyJson(empty, imageA, pub);
    expect(failed(report)).toEqual({});
    expect(code).toBe(0);
    expect(ok(cairn(['images'], { cwd: empty }))).toContain(imageA.slice(7, 19));
    expect(ok(cairn(['inspect', imageA], { cwd: empty }))).toContain('signature');
  });

  it('Given a layer blob with one byte flipped, then verify exits 3 naming the blob', () => {
    const { dir, store } = copyOf(project);
    return store.readManifest(imageA).then((m) => {
      flipByte(blobFile(dir, m.layers.at(-1)!.digest), (n) => n - 20);
      const { code, report } = verifyJson(dir, imageA);
      expect(code).toBe(3);
      expect(failed(report).blobs).toMatch(new RegExp(`reading blob ${m.layers.at(-1)!.digest}`));
    });
  });

  it('Given the config or the manifest with one byte flipped, then verify exits 3', async () => {
    const config = copyOf(project);
    flipByte(blobFile(config.dir, (await config.store.readManifest(imageA)).config.digest), (n) => n - 5);
    const c = verifyJson(config.dir, imageA);
    expect(c.code).toBe(3);
    expect(failed(c.report).blobs).toMatch(/reading blob sha256:.*its content has digest/);
    const manifest = copyOf(project);
    flipByte(blobFile(manifest.dir, imageA), (n) => n - 5);
    const m = verifyJson(manifest.dir, imageA);
    expect(m.code).toBe(3);
    expect(failed(m.report).blobs).toMatch(new RegExp(`reading blob ${imageA}`));
  });

  it('Given a signature with one byte flipped, then the signature check fails', async () => {
    const { dir, store } = copyOf(project);
    const sig = await store.resolve(signatureTag(imageA));
    const manifest = await store.readManifest(sig.digest);
    expect(manifest.layers).toHaveLength(2); // build signed it as "hello", `cairn sign` by digest
    for (const layer of manifest.layers) {
      const bytes = Buffer.from(layer.annotations!['dev.cosignproject.cosign/signature']!, 'base64');
      bytes[10] = bytes[10]! ^ 1;
      layer.annotations!['dev.cosignproject.cosign/signature'] = bytes.toString('base64');
    }
    await store.tag(
      signatureTag(imageA),
      await store.putBlob(Buffer.from(JSON.stringify(manifest)), manifest.mediaType!),
    );
    const { code, report } = verifyJson(dir, imageA);
    expect(code).toBe(3);
    const twice = 'no trusted key made this signature; no trusted key made this signature';
    expect(failed(report)).toEqual({ signature: twice });
  });

  it("Given another image's signature swapped in, then the signature check names the other image", async () => {
    const { dir, store } = copyOf(project);
    await store.tag(signatureTag(imageA), await store.resolve(signatureTag(imageB)));
    const { code, report } = verifyJson(dir, imageA);
    expect(code).toBe(3);
    expect(failed(report).signature).toBe(`the signature is for another image, ${imageB.slice(7, 19)}`);
  });

  it('Given an attestation with one byte of its payload flipped, then the attestations check fails', async () => {
    const { dir, store } = copyOf(project);
    const index = (await readReferrersIndex(store, imageA))!;
    const entry = index.manifests.find(
      (m) => m.annotations?.['dev.sigstore.bundle.predicateType'] === CYCLONEDX_PREDICATE_TYPE,
    )!;
    const referrer = await store.readManifest(entry.digest);
    const bundle = JSON.parse((await store.readBlob(referrer.layers[0]!.digest)).toString());
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    payload[40] = payload[40]! ^ 1;
    bundle.dsseEnvelope.payload = payload.toString('base64');
    referrer.layers[0] = await store.putBlob(
      Buffer.from(JSON.stringify(bundle)),
      referrer.layers[0]!.mediaType,
    );
    const newReferrer = await store.putBlob(Buffer.from(JSON.stringify(referrer)), referrer.mediaType!);
    index.manifests = index.manifests.map((m) =>
      m === entry ? { ...entry, digest: newReferrer.digest, size: newReferrer.size } : m,
    );
    await store.tag(
      referrersTag(imageA),
      await store.putBlob(Buffer.from(JSON.stringify(index)), index.mediaType!),
    );
    const { code, report } = verifyJson(dir, imageA);
    expect(code).toBe(3);
    expect(failed(report).attestations).toMatch(
      /^https:\/\/cyclonedx.org\/bom: verifying the .* attestation/,
    );
  });

  it("Given another image's SBOM attached, then the attestations check says it is about another image", async () => {
    const { dir, store } = copyOf(project);
    const a = (await readReferrersIndex(store, imageA))!;
    const b = (await readReferrersIndex(store, imageB))!;
    const isSbom = (m: { annotations?: Record<string, string> }) =>
      m.annotations?.['dev.sigstore.bundle.predicateType'] === CYCLONEDX_PREDICATE_TYPE;
    a.manifests = [...a.manifests.filter((m) => !isSbom(m)), b.manifests.find(isSbom)!];
    await store.tag(referrersTag(imageA), await store.putBlob(Buffer.from(JSON.stringify(a)), a.mediaType!));
    const { code, report } = verifyJson(dir, imageA);
    expect(code).toBe(3);
    expect(failed(report).attestations).toBe(`${CYCLONEDX_PREDICATE_TYPE}: its subject is ${imageB}`);
  });

  it('Given a signed statement about another image attached by the right key, then it is still refused', async () => {
    const { dir, store } = copyOf(project);
    const { key } = loadSigningKey(join(dir, '.cairn/keys/cairn.key'));
    const image = await store.resolve(imageA);
    await addAttestation(
      store,
      image,
      imageStatement('hello', imageB, 'https://example.com/other/v1', {}),
      key,
    );
    const report = await verifyImage(store, imageA, [loadPublicKey(join(dir, '.cairn/keys/cairn.pub'))]);
    expect(report.verified).toBe(false);
    expect(failed(report).attestations).toBe(
      'https://example.com/other/v1: its statement is about another image',
    );
  });

  it('Given the SBOM removed, then the sbom check fails', async () => {
    const { dir, store } = copyOf(project);
    const index = (await readReferrersIndex(store, imageA))!;
    index.manifests = index.manifests.filter(
      (m) => m.annotations?.['dev.sigstore.bundle.predicateType'] !== CYCLONEDX_PREDICATE_TYPE,
    );
    await store.tag(
      referrersTag(imageA),
      await store.putBlob(Buffer.from(JSON.stringify(index)), index.mediaType!),
    );
    const { code, report } = verifyJson(dir, imageA);
    expect(code).toBe(3);
    expect(failed(report)).toEqual({ sbom: 'no CycloneDX SBOM attestation by a trusted key' });
  });

  it("Given environments' trust keys, then verify --env passes where the key is trusted and exits 3 where not", () => {
    const { dir } = copyOf(project);
    const other = tempDir('cairn-trust-env-');
    ok(cairn(['keygen', '--dir', other], { cwd: dir }));
    cpSync(join(other, 'cairn.pub'), join(dir, 'other.pub'));
    const spec = readFileSync(join(dir, 'cairn.yaml'), 'utf8')
      .replace('dev: { gateway:', 'dev: { trust: { keys: [.cairn/keys/cairn.pub] }, gateway:')
      .replace('prod: { after: dev,', 'prod: { after: dev, trust: { keys: [other.pub] },');
    writeFileSync(join(dir, 'cairn.yaml'), spec);
    const dev = cairn(['verify', imageA, '--env', 'dev', '--output', 'json'], { cwd: dir });
    expect(JSON.parse(dev.stdout).verified).toBe(true);
    expect(dev.code).toBe(0);
    const prod = cairn(['verify', imageA, '--env', 'prod', '--output', 'json'], { cwd: dir });
    expect(failed(JSON.parse(prod.stdout)).signature).toBe(
      'no trusted key made this signature; no trusted key made this signature',
    );
    expect(prod.code).toBe(3);
  });

  it('Given the wrong public key, then verify exits 3 and the text output names the failed checks', () => {
    const other = tempDir('cairn-trust-other-');
    ok(cairn(['keygen', '--type', 'ed25519', '--dir', other], { cwd: project }));
    const r = cairn(['verify', imageA, '--key', join(other, 'cairn.pub')], { cwd: project });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/FAIL {2}signature +no trusted key made this signature/);
    expect(r.stderr).toMatch(
      /not verified sha256:[0-9a-f]{64}: signature, signature-bundle, attestations, sbom, provenance failed/,
    );
  });
});
