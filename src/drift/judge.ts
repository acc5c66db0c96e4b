/**
 * judgeDrift: the pure decision whether an instance is exactly what it was started from. It
 * trusts only the identity recorded in the state store; files.json counts only while its digest
 * still matches that record, because anyone who can change the bundle can change files.json too.
 */
import { compareFiles } from './compare-files.js';
import { foreignProcesses } from './foreign-processes.js';
import type { BundleClaim, DriftReason, DriftVerdict, ExpectedIdentity, Observation } from './types.js';

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
  const reasons = [
    ...identityReasons(expected, observed),
    ...fileReasons(observed, notChecked),
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
