/**
 * The vocabulary of drift: what an instance should be (recorded when it started), what it is now
 * (observed on this machine), and the verdict with one reason per difference. Plain data only.
 */
import type { FileEntry } from '../runtime/index.js';

/** What an instance was started from: its record's `identity`, anchored in the state store. */
export interface ExpectedIdentity {
  instance: string;
  service: string;
  env: string;
  release: string;
  imageDigest: string;
  /** Digest of the bundle's files.json when the instance started. */
  filesDigest: string;
  /** The image's process arguments (its entrypoint and command). */
  entrypoint: string[];
  /** RFC 6962 root over files.json (see merkle-root.ts); absent in records older than it. */
  bundleRoot?: string;
  /** The runtime config cairn generated (runc's config.json), field by field; absent: not checked. */
  runtimeConfig?: RuntimeConfigIdentity;
  /** Keyed hash (`hmac-sha256:…`) of each injected secret, by name; absent: not checked. */
  secrets?: Record<string, string>;
  /** `sha256:` of each configuration file mounted, by path in the instance; absent: not checked. */
  configFiles?: Record<string, string>;
  /** The file the kernel runs as the instance's init, as a path inside the bundle (symlinks resolved). */
  executable?: string;
}

/**
 * A runtime config reduced to one digest per field (`process.args`, `process.env.PORT`, `mounts`,
 * `linux.namespaces`, …) and a digest over them all. Env values are keyed hashes, never values.
 */
export interface RuntimeConfigIdentity {
  digest: string;
  fields: Record<string, string>;
}

/** The instance's init process as the kernel sees it. */
export interface InitProcess {
  pid: number;
  /** Path of its executable inside the bundle (or as the kernel names it, when not in the bundle). */
  executable: string;
  /** Whether that executable is the very file of the bundle at that path (same device and inode). */
  inBundle: boolean;
  /** When it is not: the inode it runs, whether that file was deleted, and the bundle's inode at that path. */
  inode?: number;
  deleted?: boolean;
  bundleInode?: number;
}

/** One process seen inside an instance. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Its command line (argv). */
  args: string[];
}

/** What the bundle says about itself now (bundle.json). */
export interface BundleClaim {
  imageDigest: string;
  filesDigest: string;
  entrypoint: string[];
}

/** What is on this machine now. A field left out was not observed (and is judged as not checked). */
export interface Observation {
  instance: string;
  status: 'running' | 'exited' | 'missing';
  /** Set when observing failed; the verdict is then `unknown`. */
  error?: string;
  bundle?: BundleClaim;
  /** sha256 of files.json's bytes now. */
  manifestDigest?: string;
  /** files.json as it is now. */
  manifest?: FileEntry[];
  /** The bundle's rootfs listed and hashed now, sorted by path. */
  files?: FileEntry[];
  /** The instance's processes, when the driver can list them (runc). */
  processes?: { initPid: number; list: ProcessInfo[] };
  /** The runtime config the runtime has now, reduced like the recorded one (runc). */
  runtimeConfig?: RuntimeConfigIdentity;
  /** Keyed hash of each secret file mounted into the instance now, by file name. */
  secrets?: Record<string, string>;
  /** `sha256:` of each configuration file's host copy now, by path in the instance (`missing` when gone). */
  configFiles?: Record<string, string>;
  /** The init process (runc). */
  init?: InitProcess;
}

export type FileChange = 'added' | 'removed' | 'content' | 'mode' | 'type' | 'target';

/** How a named part (a config field, a secret) differs from the record. */
export type PartChange = 'added' | 'removed' | 'changed';

/**
 * One difference. `config` and `secret` reasons carry digests only, never a value; their `path`
 * is what differs as people read it (`config.json process.env.PORT`, `secret API_TOKEN`).
 */
export type DriftReason =
  | { kind: 'file'; path: string; change: FileChange; expected?: string; observed?: string }
  | {
      kind: 'identity';
      field: keyof BundleClaim | 'manifest' | 'bundleRoot';
      expected: string;
      observed: string;
    }
  | { kind: 'process'; pid: number; args: string[]; detail: string }
  | { kind: 'config'; field: string; path: string; change: PartChange; expected?: string; observed?: string }
  | { kind: 'secret'; name: string; path: string; change: PartChange; expected?: string; observed?: string };

/** `in-sync`: exactly its artifact. `drifted`: reasons say what differs. `missing`: should run and does not. `unknown`: runs, but cairn did not start it (or it could not be observed). */
export type DriftVerdict =
  | { status: 'in-sync'; notChecked: string[] }
  | { status: 'drifted'; reasons: DriftReason[]; notChecked: string[] }
  | { status: 'missing'; detail: string }
  | { status: 'unknown'; detail: string };
