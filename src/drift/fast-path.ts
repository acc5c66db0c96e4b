/**
 * The fast path's confirmation: a filesystem event names a few paths of a bundle; only those are
 * hashed now (`observePaths`, tens of milliseconds) and compared with the bundle's manifest. A
 * difference found that way is proof enough that the shared bundle was altered, so the drift loop
 * acts on it at once; the full check still runs afterwards and stays authoritative.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, sha256Digest } from '../lib/index.js';
import type { FileEntry } from '../runtime/index.js';
import type { InstanceRecord } from '../state/index.js';
import { type DriftReport, reportBase } from './check.js';
import { compareFiles } from './compare-files.js';
import { expectedIdentity } from './identity.js';
import { observePaths } from './observe-files.js';
import type { DriftReason } from './types.js';

/** What the fast path needs to look at one bundle. */
export interface FastConfirmInput {
  bundlesDir: string;
  imageDigest: string;
  /** Paths inside the rootfs the events named (`/app/server.js`). */
  paths: string[];
  /** Live instance records running on this image (of the environments with the fast path on). */
  instances: InstanceRecord[];
  /** The look at the named paths; `observePaths` unless a test gives another. */
  observe?: (rootfs: string, paths: string[]) => Promise<FileEntry[]>;
}

/**
 * The named paths' differences from the manifest, as reasons. A manifest whose sha256 is not the
 * `filesDigest` recorded at start is itself a difference (whoever can change the bundle can
 * rewrite files.json too). Empty: the events changed nothing the manifest records (e.g. a touch).
 */
export async function fastReasons(
  input: Omit<FastConfirmInput, 'instances'>,
  recordedFilesDigest: string,
): Promise<DriftReason[]> {
  const dir = join(input.bundlesDir, digestHex(input.imageDigest));
  const bytes = await readFile(join(dir, 'files.json'));
  const manifestDigest = sha256Digest(bytes);
  if (manifestDigest !== recordedFilesDigest) {
    return [{ kind: 'identity', field: 'manifest', expected: recordedFilesDigest, observed: manifestDigest }];
  }
  const named = new Set(input.paths);
  const manifest = (JSON.parse(bytes.toString('utf8')) as FileEntry[]).filter((e) => named.has(e.path));
  const observe = input.observe ?? observePaths;
  const now = (await observe(join(dir, 'rootfs'), [...named])).filter((e) => named.has(e.path));
  return compareFiles(manifest, now);
}

/**
 * Drift reports for every instance on the bundle when the named paths differ from its manifest;
 * none when they do not. The reports list only the paths the events named: what a full check
 * would add to them does not change the decision (the bundle is altered: rebuild and replace).
 */
export async function confirmFastPath(input: FastConfirmInput): Promise<DriftReport[]> {
  const reports: DriftReport[] = [];
  const byDigest = new Map<string, DriftReason[]>();
  for (const record of input.instances) {
    const expected = expectedIdentity(record);
    if (typeof expected === 'string' || expected.imageDigest !== input.imageDigest) continue;
    let reasons = byDigest.get(expected.filesDigest);
    if (!reasons) {
      reasons = await fastReasons(input, expected.filesDigest);
      byDigest.set(expected.filesDigest, reasons);
    }
    if (reasons.length === 0) continue;
    reports.push({
      ...reportBase(record),
      verdict: {
        status: 'drifted',
        reasons,
        notChecked: ['files the events did not name, processes, runtime config, secrets'],
      },
    });
  }
  return reports;
}
