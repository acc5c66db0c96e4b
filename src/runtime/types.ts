/**
 * The vocabulary every runtime driver shares: where images come from, what a prepared bundle is,
 * what an instance is asked to be, and what the driver observes. Plain data only; handles are
 * JSON-serialisable so the control plane can store them and find instances again after a restart.
 */
import type { RunSpec } from '../spec/index.js';
import type { SvidFiles } from './svid-files.js';

export type RuntimeKind = 'runc' | 'bwrap' | 'process';

/**
 * Where image content comes from; the artifact `ImageStore` satisfies it structurally. The runtime
 * checks every blob it reads against its digest itself, so a source need not be trusted.
 */
export interface BlobSource {
  readBlob(digest: string): Promise<Buffer>;
}

/** What the image asks for at run time (from its OCI config), resolved against its own /etc/passwd. */
export interface ImageProcess {
  uid: number;
  gid: number;
  env: string[];
  args: string[];
  cwd: string;
}

/** One unpacked, verified, read-only root filesystem, shared by all instances of an image digest. */
export interface Bundle {
  imageDigest: string;
  /** Folder holding rootfs/, bundle.json and files.json. */
  dir: string;
  rootfs: string;
  process: ImageProcess;
  /** Digest of files.json: every file's path, type, mode, size and content digest. */
  filesDigest: string;
  /** The image's declared mount points (OCI `Volumes`), each a folder in rootfs owned by the mount. */
  mountPoints?: string[];
  /** Whether this call unpacked the image (false when the bundle was already there). */
  unpacked: boolean;
}

import type { InstanceNetwork } from './network/index.js';

/** One entry of a bundle's file manifest (files.json), sorted by path. */
export interface FileEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  digest?: string;
  target?: string;
}

/** What to run: one instance of one release. */
export interface InstanceSpec {
  id: string;
  releaseId: string;
  service: string;
  env: string;
  bundle: Bundle;
  run: RunSpec;
  /** Loopback port the instance listens on; passed as PORT. */
  port: number;
  /** Injected environment values; they override the image's. */
  vars?: Record<string, string>;
  /** File name → value; written as read-only files under /run/secrets (in memory), never logged. */
  secrets?: Record<string, string | Uint8Array>;
  /** Variable → secret value; set in the instance's environment only, never logged or recorded. */
  secretEnv?: Record<string, string>;
  /** Path in the instance → content of a configuration file (not secret), mounted read-only there. */
  files?: Record<string, string | Uint8Array>;
  /** Its X.509 SVID, key and trust bundle: written in memory under /run/secrets/.spiffe, never logged. */
  svid?: SvidFiles;
}

/** How a driver finds an instance again. Serialisable; stored by the control plane. */
export interface InstanceHandle {
  id: string;
  kind: RuntimeKind;
  releaseId: string;
  service: string;
  env: string;
  imageDigest: string;
  /** `127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  logPath: string;
  startedAt: string;
  /** Host pid and its kernel start time (guards against pid reuse); 0 when unknown. */
  pid: number;
  pidStartTicks: number;
  /** The OCI runtime config the driver generated for it (runc's config.json); drift records its hash. */
  configFile?: string;
  /** Its own network, when isolated: veth slot, host and instance addresses, host ports it may reach. */
  network?: InstanceNetwork;
}

export type InstanceStatus = 'running' | 'exited' | 'missing';

export interface ObservedInstance {
  id: string;
  status: InstanceStatus;
  pid?: number;
  startedAt?: string;
}

/** Runs instances of releases on this machine. Implementations: runc, bwrap, process. */
export interface RuntimeDriver {
  readonly kind: RuntimeKind;
  /** Verifies and unpacks an image into its shared read-only bundle (cached by digest). */
  prepare(image: { digest: string; source: BlobSource }): Promise<Bundle>;
  /** Starts a detached instance; it keeps running when the caller exits. */
  start(spec: InstanceSpec): Promise<InstanceHandle>;
  /** SIGTERM, then SIGKILL after `graceMs`; removes the instance's runtime state. Idempotent. */
  stop(handle: InstanceHandle, graceMs: number): Promise<void>;
  inspect(handle: InstanceHandle): Promise<ObservedInstance>;
  /** Every instance this driver started in its runtime folder that still exists (running or exited). */
  list(): Promise<InstanceHandle[]>;
  /** The instance's log file (stdout and stderr). */
  logs(handle: InstanceHandle): string;
}

/** Where a driver keeps its files (all under the workspace). */
export interface RuntimeConfig {
  /** `.cairn/bundles` */
  bundlesDir: string;
  /** `.cairn/runtime`: per-instance folders (config, secrets, pid) and runc's state. */
  runtimeDir: string;
  /** `.cairn/logs` */
  logsDir: string;
  /** `.cairn/volumes`: named volumes per environment (default: beside runtimeDir). */
  volumesDir?: string;
  /**
   * Run each instance in its own network namespace that only the gateway's process can reach
   * (runc, as root, with iproute2 and nftables); where that is impossible the driver warns.
   */
  isolateNetwork?: boolean;
  /** Warnings (the process driver's) go here; default stderr. */
  warn?: (message: string) => void;
}
