/**
 * Puts a release's image where the cluster pulls it from: pushed by digest (no tag) to the
 * environment's registry, `REGISTRY[/PATH]/<service>@sha256:…`, and reads the image's user, which
 * the pod runs as. A push of an image the registry has moves only the manifest.
 */
import {
  type ImageConfig,
  type ImageStore,
  isLoopbackRegistry,
  pushImage,
  RegistryClient,
} from '../artifact/index.js';
import { DriverError } from '../lib/index.js';

/** The numeric user of an image without one (cairn's images always name one). */
const NOBODY_UID = 65534;

export interface PushedImage {
  /** `REGISTRY/REPO@sha256:…` */
  ref: string;
  uid: number;
}

/** Pushes `digest` for `service` to `registry` (`host[:port][/path]`); plain HTTP only on loopback. */
export async function pushReleaseImage(
  store: ImageStore,
  digest: string,
  service: string,
  registry: string,
  env: string,
): Promise<PushedImage> {
  const slash = registry.indexOf('/');
  const host = slash < 0 ? registry : registry.slice(0, slash);
  const repository = [slash < 0 ? '' : registry.slice(slash + 1), service].filter(Boolean).join('/');
  const client = new RegistryClient({ registry: host, insecure: isLoopbackRegistry(host) });
  try {
    const descriptor = await store.resolve(digest);
    const pushed = await pushImage(store, descriptor, { registry: host, repository }, client);
    const manifest = await store.readManifest(digest);
    const config = JSON.parse((await store.readBlob(manifest.config.digest)).toString('utf8')) as ImageConfig;
    return { ref: pushed.target, uid: uidOf(config.config?.User) };
  } catch (error) {
    throw new DriverError(
      `pushing the image of ${service} to ${registry} for environment ${env}: ${(error as Error).message}`,
      {
        hint: `check that the registry of environments.${env}.kubernetes.registry is up and writable`,
        cause: error,
      },
    );
  }
}

/** `1000`, `1000:1000` → 1000; a name or nothing → nobody (the kubelet refuses a named user with runAsNonRoot). */
export function uidOf(user: string | undefined): number {
  const uid = Number((user ?? '').split(':')[0]);
  return Number.isInteger(uid) && uid > 0 && (user ?? '') !== '' ? uid : NOBODY_UID;
}
