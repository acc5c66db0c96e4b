/**
 * judgeDrift: the pure decision whether an instance is exactly what it was started from. It
 * trusts only the identity recorded in the state store; files.json counts only while its digest
 * still matches that record, because anyone who can change the bundle can change files.json too.
 * A part of the identity that the record lacks (an older record) or that could not be observed
 * (another driver) is listed in `notChecked`, never assumed equal.
 */
import type { FileEntry } from '../runtime/index.js';
import { compareFiles } from './compare-files.js';
import { foreignProcesses } from './foreign-processes.js';
import { bundleRootHash } from './merkle-root.js';
import { compareParts, compareRuntimeConfig } from './runtime-config-hash.js';
import { compareSecrets } from './secret-hash.js';
import type {
  BundleClaim,
  DriftReason,
  DriftVerdict,
  ExpectedIdentity,
  InitProcess,
  Observation,
} from './types.js';

/**
 * Judges one instance. `expected` undefined means cairn has no record of it: `unknown`.
 *
 * @example
 * judgeDrift(identity, { instance: 'ins-1', status: 'missing' }) // { status: 'missing', … }
 */
export function judgeDrift(expected: ExpectedIdentity | undefined, observed: Observation): DriftVerdict {
  if (!expected) {
    return {
      status: 'unknown',
      detail: `${observed.instance} runs, but the state store has no live instance by that id`,
    };
  }
  if (observed.status !== 'running') {
    return { status: 'missing', detail: `${expected.instance} should run and is ${observed.status}` };
  }
  if (observed.error !== undefined) {
    return { status: 'unknown', detail: `observing ${expected.instance} failed: ${observed.error}` };
  }
  const notChecked: string[] = [];
  // What changed comes first (files, then the bundle's identity); the init-process finding, often
  // a consequence of a changed or rebuilt bundle, comes last: a report's first line is its headline.
  const reasons = [
    ...fileReasons(observed, notChecked),
    ...identityReasons(expected, observed),
    ...bundleRootReasons(expected, observed, notChecked),
    ...configReasons(expected, observed, notChecked),
    ...secretReasons(expected, observed, notChecked),
    ...configFileReasons(expected, observed),
    ...initReasons(expected, observed, notChecked),
    ...processReasons(observed, notChecked),
  ];
  return reasons.length === 0
    ? { status: 'in-sync', notChecked }
    : { status: 'drifted', reasons, notChecked };
}

function identityReasons(expected: ExpectedIdentity, observed: Observation): DriftReason[] {
  const reasons: DriftReason[] = [];
  if (observed.manifestDigest !== undefined && observed.manifestDigest !== expected.filesDigest) {
    reasons.push({
      kind: 'identity',
      field: 'manifest',
      expected: expected.filesDigest,
      observed: observed.manifestDigest,
    });
  }
  const claim = observed.bundle;
  if (!claim) return reasons;
  const want: BundleClaim = {
    imageDigest: expected.imageDigest,
    filesDigest: expected.filesDigest,
    entrypoint: expected.entrypoint,
  };
  for (const field of ['imageDigest', 'filesDigest', 'entrypoint'] as const) {
    const a = JSON.stringify(want[field]);
    const b = JSON.stringify(claim[field]);
    if (a !== b) reasons.push({ kind: 'identity', field, expected: a, observed: b });
  }
  return reasons;
}

function fileReasons(observed: Observation, notChecked: string[]): DriftReason[] {
  if (!observed.manifest || !observed.files) {
    notChecked.push('files');
    return [];
  }
  return compareFiles(observed.manifest, observed.files);
}

function processReasons(observed: Observation, notChecked: string[]): DriftReason[] {
  if (!observed.processes) {
    notChecked.push('processes');
    return [];
  }
  return foreignProcesses(observed.processes.initPid, observed.processes.list).map((p) => ({
    kind: 'process' as const,
    pid: p.pid,
    args: p.args,
    detail: `pid ${p.pid} (${p.args.join(' ') || '?'}) was not started by the image's entrypoint`,
  }));
}

/**
 * Root hashes of listings already judged: instances sharing a bundle share one listing, and hashing
 * 10,000 entries takes tens of milliseconds. Keyed by the array itself, so the result stays a pure
 * function of its input as long as a listing is not mutated once judged (observations never are).
 */
const rootOfListing = new WeakMap<readonly FileEntry[], string>();

function rootOf(files: readonly FileEntry[]): string {
  let root = rootOfListing.get(files);
  if (root === undefined) {
    root = bundleRootHash(files);
    rootOfListing.set(files, root);
  }
  return root;
}

/** The root hash of the rootfs as it is now against the one recorded: the whole bundle in one digest. */
function bundleRootReasons(
  expected: ExpectedIdentity,
  observed: Observation,
  notChecked: string[],
): DriftReason[] {
  if (expected.bundleRoot === undefined || !observed.files) {
    notChecked.push('bundle root');
    return [];
  }
  const now = rootOf(observed.files);
  if (now === expected.bundleRoot) return [];
  return [{ kind: 'identity', field: 'bundleRoot', expected: expected.bundleRoot, observed: now }];
}

function configReasons(
  expected: ExpectedIdentity,
  observed: Observation,
  notChecked: string[],
): DriftReason[] {
  if (!expected.runtimeConfig || !observed.runtimeConfig) {
    notChecked.push('runtime config');
    return [];
  }
  return compareRuntimeConfig(expected.runtimeConfig, observed.runtimeConfig);
}

function secretReasons(
  expected: ExpectedIdentity,
  observed: Observation,
  notChecked: string[],
): DriftReason[] {
  if (!expected.secrets || !observed.secrets) {
    notChecked.push('secrets');
    return [];
  }
  return compareSecrets(expected.secrets, observed.secrets);
}

/** Each configuration file's host copy must still have the content the instance started with. */
function configFileReasons(expected: ExpectedIdentity, observed: Observation): DriftReason[] {
  if (!expected.configFiles || !observed.configFiles) return [];
  return compareParts(expected.configFiles, observed.configFiles).map(({ name, ...d }) => ({
    kind: 'config' as const,
    field: `files.${name}`,
    path: `configuration file ${name}`,
    ...d,
  }));
}

/** The init process must run the bundle's own copy of the expected executable. */
function initReasons(expected: ExpectedIdentity, observed: Observation, notChecked: string[]): DriftReason[] {
  const init = observed.init;
  if (expected.executable === undefined || !init) {
    notChecked.push('init process');
    return [];
  }
  if (init.inBundle && init.executable === expected.executable) return [];
  return [
    {
      kind: 'process',
      pid: init.pid,
      args: [init.executable],
      detail: initDetail(init, expected.executable),
    },
  ];
}

/** What differs about the init process's executable, never two equal paths side by side. */
function initDetail(init: InitProcess, expected: string): string {
  const head = `init pid ${init.pid}`;
  const inode = init.inode === undefined ? '' : ` (inode ${init.inode})`;
  if (init.executable !== expected) {
    const where = init.inBundle ? '' : `, not a file of the bundle${inode}`;
    return `${head} runs ${init.executable}${where}; the image's entrypoint runs ${expected}`;
  }
  const bundle = init.bundleInode === undefined ? '' : ` (inode ${init.bundleInode})`;
  if (init.deleted) {
    return `${head} runs a deleted file that was ${expected}${inode}; the bundle's ${expected} is another file${bundle}: the executable it started from was replaced`;
  }
  if (init.bundleInode === undefined)
    return `${head} runs ${expected}${inode}, which the bundle no longer has`;
  return `${head} runs ${expected}${inode}, not the bundle's file at that path${bundle}: replaced, or run from outside the bundle`;
}
