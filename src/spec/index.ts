/** The declarative spec: cairn.yaml's schema, its loader with file:line:column diagnostics, and its JSON Schema. */
export { MAX_CONFIG_FILE_BYTES } from './config-file-rules.js';
export { type ConfigFile, configFileDigests, readConfigFiles } from './config-files.js';
export { toJsonSchema } from './json-schema.js';
export { type CheckedSpec, checkSpecFile, loadSpec, readPolicyFile } from './load.js';
export { CONFIG_FILES_LABEL, configFileTargets, mountPaths } from './mount-paths.js';
export { DEFAULT_CANARY_STEPS, type ParseResult, parseSpec } from './parse.js';
export {
  type ContainedRead,
  FileTooLargeError,
  MAX_POLICY_BYTES,
  MAX_SPEC_BYTES,
  readContainedFile,
} from './project-file.js';
export { isInside, PROJECT_ROOT_ENV } from './project-path.js';
export { promotionIdentity, type ReleaseConfig, releaseConfig, runForEnvironment } from './release-config.js';
export type { FileKind } from './rules.js';
export { findSpecFile, SPEC_FILE } from './spec-file.js';
export * from './types.js';
