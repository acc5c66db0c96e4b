/** Turns what a user types for IMAGE — a service name, a store ref, a digest or a prefix — into a manifest. */
import { NotFoundError } from '../lib/index.js';
import type { Spec } from '../spec/index.js';
import { serviceRef } from './build-image.js';
import type { ImageStore } from './layout-store.js';
import type { Descriptor } from './oci.js';

/**
 * Resolves IMAGE: a service of the spec (its latest build, `<service>:latest`), then a store ref,
 * a full digest, or a unique digest prefix. Throws NotFoundError with a hint to build first.
 */
export async function resolveImage(store: ImageStore, image: string, spec?: Spec): Promise<Descriptor> {
  if (spec?.services[image]) {
    try {
      return await store.resolve(serviceRef(image));
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      throw new NotFoundError(`finding the image of service ${image}: it has not been built`, {
        hint: `run \`cairn build ${image}\` first`,
        cause: error,
      });
    }
  }
  return store.resolve(image);
}
