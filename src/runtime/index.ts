/** Runs releases as read-only, hardened instances on this machine (runc, bubblewrap, or a bare process) and supervises them. */
export { bundleFiles, prepareBundle, readVerified } from './bundle.js';
export { sweepBundleTemps } from './bundle-temps.js';
export { type BwrapConfig, createBwrapDriver } from './bwrap/bwrap-driver.js';
export { configFileCopyOf } from './config-files.js';
export {
  chooseDriver,
  createRuntimeDriver,
  type DriverAvailability,
  detectDrivers,
  packagesToInstall,
} from './detect.js';
export { privateDirOf, privateRoot, secretsDirOf, sweepPrivateDirs } from './instance-files.js';
export { findInstanceLog, followLog, lastLines, lastOutput, readFrom } from './instance-log.js';
export { HostNetwork, hostNetworkSupport, type InstanceNetwork, toolPath } from './network/index.js';
export { freeLoopbackPort, LOOPBACK, runtimeConfigFor } from './ports.js';
export { isAlive } from './proc.js';
export { createProcessDriver, PROCESS_WARNING, type ProcessConfig } from './process/process-driver.js';
export { createRuncDriver, type RuncConfig } from './runc/runc-driver.js';
export { SVID_FOLDER, type SvidFiles, svidDirOf, svidOwner, svidVars, writeSvidFiles } from './svid-files.js';
export type * from './types.js';
export {
  ensureVolumes,
  folderSize,
  listVolumes,
  removeVolume,
  VOLUME_MODE,
  type VolumeInfo,
  type VolumeMount,
  volumeDir,
  volumesDirOf,
} from './volumes.js';
