/**
 * Signatures travel with their image: push the cosign `.sig` manifest and the referrers index (with
 * every referrer it lists) to a registry, and pull them back into a store. Uses the referrers
 * tag schema, so it works on registries without the referrers API (such as docker-registry 2.x).
 */
import type { Descriptor, ImageStore, OciIndex, OciManifest, RegistryClient } from '../artifact/index.js';
import { MEDIA_TYPE, parseManifest } from '../artifact/index.js';
import { CairnError, shortDigest } from '../lib/index.js';
import { referrersTag } from './signature-manifests.js';
import { signatureTag } from './simple-signing.js';

async function storeRef(store: ImageStore, ref: string): Promise<Descriptor | undefined> {
  return (await store.list()).find((e) => e.ref === ref)?.descriptor;
}

async function pushManifest(
  store: ImageStore,
  client: RegistryClient,
  repo: string,
  d: Descriptor,
  reference: string,
  action: string,
): Promise<void> {
  const manifest = await store.readManifest(d.digest);
  for (const blob of [manifest.config, ...manifest.layers]) {
    await client.pushBlob(repo, await store.readBlob(blob.digest), blob, action);
  }
  await client.putManifest(
    repo,
    reference,
    await store.readBlob(d.digest),
    manifest.mediaType ?? MEDIA_TYPE.manifest,
    action,
  );
}

/** Pushes what signs and attests an image; returns the tags pushed (none when it is unsigned). */
export async function pushSignatures(
  store: ImageStore,
  imageDigest: string,
  repo: string,
  client: RegistryClient,
): Promise<string[]> {
  const action = `pushing the signatures of ${shortDigest(imageDigest)}`;
  const pushed: string[] = [];
  const sig = await storeRef(store, signatureTag(imageDigest));
  if (sig) {
    await pushManifest(store, client, repo, sig, signatureTag(imageDigest), action);
    pushed.push(signatureTag(imageDigest));
  }
  const indexDescriptor = await storeRef(store, referrersTag(imageDigest));
  if (indexDescriptor) {
    const bytes = await store.readBlob(indexDescriptor.digest);
    const index = JSON.parse(bytes.toString('utf8')) as OciIndex;
    for (const referrer of index.manifests)
      await pushManifest(store, client, repo, referrer, referrer.digest, action);
    await client.putManifest(repo, referrersTag(imageDigest), bytes, MEDIA_TYPE.index, action);
    pushed.push(referrersTag(imageDigest));
  }
  return pushed;
}

/** The manifest a registry holds under a reference, or undefined when it answers 404. */
async function fetchOptional(client: RegistryClient, repo: string, reference: string, action: string) {
  try {
    return await client.getManifest(repo, reference, action);
  } catch (error) {
    if (error instanceof CairnError && / 404\b/.test(error.message)) return undefined;
    throw error;
  }
}

async function pullManifest(
  store: ImageStore,
  client: RegistryClient,
  repo: string,
  bytes: Buffer,
  action: string,
) {
  const manifest: OciManifest = parseManifest(bytes);
  for (const blob of [manifest.config, ...manifest.layers]) {
    if (!(await store.hasBlob(blob.digest)))
      await store.putBlob(await client.getBlob(repo, blob, action), blob.mediaType);
  }
  return store.putBlob(bytes, manifest.mediaType ?? MEDIA_TYPE.manifest);
}

/** Pulls the signatures and attestations of an image into the store; returns the tags found. */
export async function pullSignatures(
  store: ImageStore,
  imageDigest: string,
  repo: string,
  client: RegistryClient,
): Promise<string[]> {
  const action = `pulling the signatures of ${shortDigest(imageDigest)}`;
  const pulled: string[] = [];
  const sig = await fetchOptional(client, repo, signatureTag(imageDigest), action);
  if (sig) {
    await store.tag(signatureTag(imageDigest), await pullManifest(store, client, repo, sig.bytes, action));
    pulled.push(signatureTag(imageDigest));
  }
  const index = await fetchOptional(client, repo, referrersTag(imageDigest), action);
  if (index) {
    for (const referrer of (JSON.parse(index.bytes.toString('utf8')) as OciIndex).manifests) {
      const fetched = await client.getManifest(repo, referrer.digest, action);
      await pullManifest(store, client, repo, fetched.bytes, action);
    }
    await store.tag(referrersTag(imageDigest), await store.putBlob(index.bytes, MEDIA_TYPE.index));
    pulled.push(referrersTag(imageDigest));
  }
  return pulled;
}
