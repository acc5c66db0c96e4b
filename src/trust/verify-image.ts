/**
 * `verifyImage`: everything a consumer should check before trusting an image — every blob matches
 * its digest, a trusted key signed the manifest digest (cosign and bundle), every attestation is
 * signed by a trusted key and about this image, the SBOM lists what the layers contain, and
 * provenance is present. Each check reports separately; the image is verified only if all pass.
 */
import { ANNOTATION, type ImageStore, type OciManifest } from '../artifact/index.js';
import { provenanceProblems, type SlsaProvenance } from '../artifact/provenance.js';
import { compareSbom, summariseProblems } from '../artifact/sbom-check.js';
import { inventoryOf } from '../artifact/sbom-inventory.js';
import { readImageFiles } from '../artifact/sbom-layers.js';
import { digestHex, shortDigest } from '../lib/index.js';
import { verifyBundle } from './bundle.js';
import { envelopePayload, parseEnvelope } from './dsse.js';
import { readReferrerBundle, readReferrersIndex, readSignatureManifest } from './image-attach.js';
import type { PublicKeyInfo } from './key-pair.js';
import { findSigner } from './signature.js';
import { PREDICATE_TYPE_ANNOTATION } from './signature-manifests.js';
import { COSIGN_SIGNATURE_ANNOTATION, signedDigest } from './simple-signing.js';
import {
  CYCLONEDX_PREDICATE_TYPE,
  isAbout,
  parseStatement,
  SIGN_PREDICATE_TYPE,
  SLSA_PROVENANCE_V1,
  type Statement,
} from './statement.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface VerifyReport {
  verified: boolean;
  image: string;
  checks: Check[];
}

interface Attestations {
  /** Statements whose bundle a trusted key signed and whose subject is this image. */
  verified: Map<string, Array<{ statement: Statement; signer: PublicKeyInfo }>>;
  problems: string[];
  /** Attestations of other types (scan results, gate decisions) that failed: reported, not fatal. */
  ignored: string[];
  count: number;
}

/** The attestations an image needs; any other type may be absent or signed by another key. */
const REQUIRED_TYPES = new Set([SIGN_PREDICATE_TYPE, CYCLONEDX_PREDICATE_TYPE, SLSA_PROVENANCE_V1]);

const message = (error: unknown) => (error as Error).message;
const keyName = (k: PublicKeyInfo) => `${k.keyId.slice(0, 12)} (${k.source})`;

async function checkBlobs(store: ImageStore, digest: string): Promise<Check> {
  try {
    const manifest = await store.readManifest(digest);
    await store.readBlob(manifest.config.digest);
    for (const layer of manifest.layers) await store.readBlob(layer.digest);
    return {
      name: 'blobs',
      ok: true,
      detail: `manifest, config and ${manifest.layers.length} layer(s) match their digests`,
    };
  } catch (error) {
    return { name: 'blobs', ok: false, detail: message(error) };
  }
}

async function checkCosignSignature(
  store: ImageStore,
  digest: string,
  trusted: PublicKeyInfo[],
): Promise<Check> {
  const name = 'signature';
  let manifest: OciManifest | undefined;
  try {
    manifest = await readSignatureManifest(store, digest);
  } catch (error) {
    return { name, ok: false, detail: `reading the .sig manifest: ${message(error)}` };
  }
  if (!manifest) return { name, ok: false, detail: 'the image has no cosign signature (.sig tag)' };
  const problems: string[] = [];
  for (const layer of manifest.layers) {
    try {
      const payload = await store.readBlob(layer.digest);
      const signed = signedDigest(payload);
      if (signed !== digest) throw new Error(`the signature is for another image, ${shortDigest(signed)}`);
      const sig = Buffer.from(layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION] ?? '', 'base64');
      const signer = findSigner(trusted, payload, sig);
      if (signer)
        return { name, ok: true, detail: `manifest digest signed by trusted key ${keyName(signer)}` };
      problems.push('no trusted key made this signature');
    } catch (error) {
      problems.push(message(error));
    }
  }
  return { name, ok: false, detail: problems.join('; ') || 'the .sig manifest holds no signature' };
}

type Referrer = NonNullable<Awaited<ReturnType<typeof readReferrersIndex>>>['manifests'][number];

/** Files one referrer under verified, ignored (an optional type by an untrusted key) or problems. */
async function readOne(
  store: ImageStore,
  digest: string,
  referrer: Referrer,
  trusted: PublicKeyInfo[],
  result: Attestations,
): Promise<void> {
  const type = referrer.annotations?.[PREDICATE_TYPE_ANNOTATION];
  const what = type ?? referrer.digest;
  const { manifest, bundle } = await readReferrerBundle(store, referrer);
  if (manifest.subject?.digest !== digest)
    throw new Error(`its subject is ${manifest.subject?.digest ?? 'missing'}`);
  let verified: ReturnType<typeof verifyBundle>;
  try {
    verified = verifyBundle(bundle, trusted, `the ${what} attestation`);
  } catch (error) {
    // A scan result or gate decision signed by a key this environment does not trust is not
    // evidence, and not a reason to refuse the image, unless it claims to be about another image.
    if (type === undefined || REQUIRED_TYPES.has(type)) throw error;
    const raw = parseEnvelope((bundle as { dsseEnvelope?: unknown }).dsseEnvelope, `the ${what} attestation`);
    if (!isAbout(parseStatement(envelopePayload(raw), what), digest))
      throw new Error('its statement is about another image');
    result.ignored.push(`${what}: ${message(error)}`);
    return;
  }
  const { signer, envelope } = verified;
  const statement = parseStatement(envelopePayload(envelope), `the ${what} attestation`);
  if (!isAbout(statement, digest)) throw new Error('its statement is about another image');
  const list = result.verified.get(statement.predicateType) ?? [];
  list.push({ statement, signer });
  result.verified.set(statement.predicateType, list);
}

async function readAttestations(
  store: ImageStore,
  digest: string,
  trusted: PublicKeyInfo[],
): Promise<Attestations> {
  const result: Attestations = { verified: new Map(), problems: [], ignored: [], count: 0 };
  const index = await readReferrersIndex(store, digest);
  for (const referrer of index?.manifests ?? []) {
    result.count++;
    await readOne(store, digest, referrer, trusted, result).catch((error: unknown) => {
      const what = referrer.annotations?.[PREDICATE_TYPE_ANNOTATION] ?? referrer.digest;
      result.problems.push(`${what}: ${message(error)}`);
    });
  }
  return result;
}

function checkAttestations(a: Attestations): Check {
  if (a.count === 0)
    return { name: 'attestations', ok: false, detail: 'the image has no attestations (no referrers)' };
  if (a.problems.length > 0) return { name: 'attestations', ok: false, detail: a.problems.join('; ') };
  const signed = a.count - a.ignored.length;
  const extra = a.ignored.length > 0 ? `; ignored ${a.ignored.length} optional: ${a.ignored.join('; ')}` : '';
  return {
    name: 'attestations',
    ok: true,
    detail: `${signed} attestation(s) signed by trusted keys, all about this image${extra}`,
  };
}

function checkBundleSignature(a: Attestations): Check {
  const signed = a.verified.get(SIGN_PREDICATE_TYPE)?.[0];
  return signed
    ? {
        name: 'signature-bundle',
        ok: true,
        detail: `sigstore bundle signed by trusted key ${keyName(signed.signer)}`,
      }
    : { name: 'signature-bundle', ok: false, detail: 'no sigstore signature bundle by a trusted key' };
}

async function checkSbom(store: ImageStore, digest: string, a: Attestations): Promise<Check> {
  const sboms = a.verified.get(CYCLONEDX_PREDICATE_TYPE) ?? [];
  if (sboms.length === 0)
    return { name: 'sbom', ok: false, detail: 'no CycloneDX SBOM attestation by a trusted key' };
  try {
    const inventory = inventoryOf(await readImageFiles(store, digest));
    for (const { statement } of sboms) {
      const problems = compareSbom(inventory, statement.predicate);
      if (problems.length > 0) return { name: 'sbom', ok: false, detail: summariseProblems(problems) };
    }
    const n = inventory.npm.length + inventory.runtimes.length + inventory.libraries.length;
    return { name: 'sbom', ok: true, detail: `the sbom lists the ${n} component(s) the layers contain` };
  } catch (error) {
    return { name: 'sbom', ok: false, detail: `reading the layers: ${message(error)}` };
  }
}

async function checkProvenance(store: ImageStore, digest: string, a: Attestations): Promise<Check> {
  const found = a.verified.get(SLSA_PROVENANCE_V1)?.[0];
  if (!found)
    return { name: 'provenance', ok: false, detail: 'no SLSA v1 provenance attestation by a trusted key' };
  const predicate = found.statement.predicate as SlsaProvenance;
  const problems = provenanceProblems(predicate);
  const base = (await store.readManifest(digest).catch(() => undefined))?.annotations?.[
    ANNOTATION.baseDigest
  ];
  const deps = predicate.buildDefinition?.resolvedDependencies ?? [];
  if (base && !deps.some((d) => d.digest?.sha256 === digestHex(base)))
    problems.push('its base digest is not the image base');
  if (problems.length > 0) return { name: 'provenance', ok: false, detail: problems.join('; ') };
  return {
    name: 'provenance',
    ok: true,
    detail: `built by ${predicate.runDetails.builder.id} (${predicate.buildDefinition.buildType})`,
  };
}

/**
 * The store, reading (and digest-checking) each blob once, so the blobs and sbom checks share
 * the layers. Methods of the store that read blobs go through the cache too (`this.readBlob`).
 */
function readOnce(store: ImageStore): ImageStore {
  const blobs = new Map<string, Promise<Buffer>>();
  const readBlob = (digest: string): Promise<Buffer> => {
    let read = blobs.get(digest);
    if (!read) {
      read = store.readBlob(digest);
      blobs.set(digest, read);
    }
    return read;
  };
  return Object.assign(Object.create(store) as ImageStore, { readBlob });
}

/**
 * Verifies an image in the store against trusted public keys; never throws for a failed check.
 * @example
 * const report = await verifyImage(store, 'sha256:…', [loadPublicKey('cairn.pub')]);
 * if (!report.verified) console.log(report.checks.filter((c) => !c.ok));
 */
export async function verifyImage(
  uncached: ImageStore,
  digest: string,
  trusted: PublicKeyInfo[],
): Promise<VerifyReport> {
  const store = readOnce(uncached);
  const checks: Check[] = [await checkBlobs(store, digest)];
  if (trusted.length === 0)
    checks.push({ name: 'keys', ok: false, detail: 'no trusted public key was given' });
  checks.push(await checkCosignSignature(store, digest, trusted));
  let attestations: Attestations;
  try {
    attestations = await readAttestations(store, digest, trusted);
  } catch (error) {
    attestations = {
      verified: new Map(),
      problems: [`reading the referrers: ${message(error)}`],
      ignored: [],
      count: 1,
    };
  }
  checks.push(checkBundleSignature(attestations), checkAttestations(attestations));
  checks.push(
    await checkSbom(store, digest, attestations),
    await checkProvenance(store, digest, attestations),
  );
  return { verified: checks.every((c) => c.ok), image: digest, checks };
}
