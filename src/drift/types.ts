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
}

export type FileChange = 'added' | 'removed' | 'content' | 'mode' | 'type' | 'target';

export type DriftReason =
  | { kind: 'file'; path: string; change: FileChange; expected?: string; observed?: string }
  | { kind: 'identity'; field: keyof BundleClaim | 'manifest'; expected: string; observed: string }
  | { kind: 'process'; pid: number; args: string[]; detail: string };

/** `in-sync`: exactly its artifact. `drifted`: reasons say what differs. `missing`: should run and does not. `unknown`: runs, but cairn did not start it (or it could not be observed). */
export type DriftVerdict =
  | { status: 'in-sync'; notChecked: string[] }
  | { status: 'drifted'; reasons: DriftReason[]; notChecked: string[] }
  | { status: 'missing'; detail: string }
  | { status: 'unknown'; detail: string };
