/** Artifacts: reproducible OCI image builds, the OCI-layout image store, and push/pull to registries. */
export { type ImageStore, openImageStore } from './layout-store.js';
export {
  ANNOTATION,
  type Descriptor,
  type ImageConfig,
  isRefName,
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPE,
  type OciIndex,
  type OciManifest,
  parseManifest,
  REF_NAME_ANNOTATION,
} from './oci.js';
