/** Artifacts: reproducible OCI image builds, the OCI-layout image store, and push/pull to registries. */
export { HOST_NODE_BASE, NONROOT_UID } from './base-host-node.js';
export { type ResolvedBase, resolveBase } from './base-source.js';
export {
  type BuildLayerInfo,
  type BuildOptions,
  type BuildResult,
  buildImage,
  serviceRef,
} from './build-image.js';
export { DEFAULT_SOURCE_DATE_EPOCH, entriesKey, sourceDigest } from './build-inputs.js';
export { type BuiltLayer, type ImageInputs, imageDocuments } from './image-config.js';
export {
  type BaseSpec,
  formatRegistryRef,
  isLoopbackRegistry,
  parseBaseSpec,
  parseRegistryRef,
  type RegistryRef,
} from './image-ref.js';
export { type CachedLayer, LayerCache, type LayerRequest } from './layer-cache.js';
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
export { formatBytes, progressPrinter, renderProgressBar } from './progress.js';
export {
  createLayoutPublisher,
  createPublisher,
  createRegistryPublisher,
  type ImagePublisher,
  type LayoutPublisherConfig,
  type RegistryPublisherConfig,
} from './publisher.js';
export { type Credentials, credentialsFromEnv } from './registry-auth.js';
export { type Progress, RegistryClient, type RegistryClientConfig } from './registry-client.js';
export {
  type BlobProgress,
  ociArchitecture,
  type PullResult,
  type PushResult,
  pullImage,
  pushImage,
} from './registry-transfer.js';
export { resolveImage } from './resolve-image.js';
export { buildLayer, type LayerBlob, type LayerEntry } from './tar-layer.js';
export { workspaceStore } from './workspace-store.js';
