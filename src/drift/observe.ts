/**
 * Observes one instance on this machine: the driver's view (is it running, which processes), its
 * bundle (bundle.json, files.json and the rootfs re-hashed), its runtime config and init process
 * (runc) and its mounted secrets. Only what the record can be compared with is observed. A failure
 * to observe becomes the observation's `error`, so the verdict is `unknown`, never a silent in-sync.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CairnError, digestHex, sha256Digest } from '../lib/index.js';
import {
  configFileCopyOf,
  type FileEntry,
  type InstanceHandle,
  type RuntimeDriver,
  secretsDirOf,
} from '../runtime/index.js';
import { identityKeyPath, readIdentityKey } from './identity-key.js';
import { listRootfs } from './observe-files.js';
import { describeProcesses, runcPids } from './observe-processes.js';
import { observeInit, observeRuntimeConfig, observeSecrets } from './observe-runtime.js';
import { currentRuncRecord, recordedPids } from './runc-record.js';
import type { BundleClaim, ExpectedIdentity, Observation } from './types.js';

type IdentityView = Pick<Observation, 'runtimeConfig' | 'secrets' | 'init' | 'configFiles'>;

/** Where observation looks, and a cache so instances sharing a bundle hash it once per check. */
export interface ObserveContext {
  bundlesDir: string;
  /** runc's state root (`.cairn/runtime/runc`). */
  runcRoot: string;
  rootfsCache: Map<string, Promise<FileEntry[]>>;
}

interface BundleView {
  bundle: BundleClaim;
  manifestDigest: string;
  manifest: FileEntry[];
  files: FileEntry[];
}

/** Observes the instance `expected` describes through the driver that started it. */
export async function observeInstance(
  ctx: ObserveContext,
  driver: RuntimeDriver,
  handle: InstanceHandle,
  expected: ExpectedIdentity,
): Promise<Observation> {
  const instance = expected.instance;
  try {
    const seen = await driver.inspect(handle);
    if (seen.status !== 'running') return { instance, status: seen.status };
    const view = await observeBundle(ctx, expected.imageDigest);
    const runcPid = driver.kind === 'runc' ? seen.pid : undefined;
    // What runc recorded answers for `runc state` and `runc ps` while its init runs (no spawn).
    const record = runcPid ? await currentRuncRecord(ctx.runcRoot, handle.id, runcPid) : undefined;
    const identity = await observeIdentity(ctx, handle.id, runcPid, expected, record?.bundle);
    if (!runcPid) return { instance, status: 'running', ...view, ...identity };
    const pids = (record && (await recordedPids(record))) ?? (await runcPids(ctx.runcRoot, handle.id));
    const list = await describeProcesses(pids);
    return { instance, status: 'running', ...view, ...identity, processes: { initPid: runcPid, list } };
  } catch (error) {
    return { instance, status: 'running', error: withHint(error) };
  }
}

/** The error's message, and what to do about it when the error says (a report has no other place for it). */
function withHint(error: unknown): string {
  const message = (error as Error).message;
  return error instanceof CairnError && error.hint ? `${message} (${error.hint})` : message;
}

async function observeBundle(ctx: ObserveContext, imageDigest: string): Promise<BundleView> {
  const dir = join(ctx.bundlesDir, digestHex(imageDigest));
  const record = JSON.parse(await readFile(join(dir, 'bundle.json'), 'utf8')) as {
    imageDigest: string;
    filesDigest: string;
    process: { args: string[] };
  };
  const manifestBytes = await readFile(join(dir, 'files.json'));
  const rootfs = join(dir, 'rootfs');
  let files = ctx.rootfsCache.get(rootfs);
  if (!files) {
    files = listRootfs(rootfs);
    ctx.rootfsCache.set(rootfs, files);
  }
  return {
    bundle: {
      imageDigest: record.imageDigest,
      filesDigest: record.filesDigest,
      entrypoint: record.process.args,
    },
    manifestDigest: sha256Digest(manifestBytes),
    manifest: JSON.parse(manifestBytes.toString('utf8')) as FileEntry[],
    files: await files,
  };
}

/**
 * The runtime config, secrets and init process, for the parts the record holds. `bundle` is the
 * container's bundle folder when runc's state file said so (else `runc state` is asked). Secrets are read
 * from the instance's private folder, which every driver derives from the runtime folder beside
 * runc's state root (see `secretsDirOf`; bind-mounted read-only at /run/secrets); configuration
 * files from the same folder (see `configFileCopyOf`; each bound read-only at its path).
 */
async function observeIdentity(
  ctx: ObserveContext,
  id: string,
  runcPid: number | undefined,
  expected: ExpectedIdentity,
  bundle: string | undefined,
): Promise<IdentityView> {
  const needsKey = expected.secrets !== undefined || (runcPid && expected.runtimeConfig !== undefined);
  const key = needsKey ? await readIdentityKey(identityKeyPath(ctx.bundlesDir)) : undefined;
  const view: IdentityView = {};
  if (key && expected.secrets) {
    view.secrets = await observeSecrets(secretsDirOf({ runtimeDir: dirname(ctx.runcRoot) }, id), key);
  }
  if (expected.configFiles)
    view.configFiles = await observeConfigFiles(ctx, id, Object.keys(expected.configFiles));
  if (!runcPid) return view;
  if (key && expected.runtimeConfig)
    view.runtimeConfig = await observeRuntimeConfig(ctx.runcRoot, id, key, bundle);
  if (expected.executable !== undefined) {
    view.init = await observeInit(runcPid, join(ctx.bundlesDir, digestHex(expected.imageDigest), 'rootfs'));
  }
  return view;
}

/** The content digest of each configuration file's host copy now (`missing` when it is gone). */
async function observeConfigFiles(
  ctx: ObserveContext,
  id: string,
  paths: string[],
): Promise<Record<string, string>> {
  const location = { runtimeDir: dirname(ctx.runcRoot) };
  const out: Record<string, string> = {};
  for (const path of paths) {
    const bytes = await readFile(configFileCopyOf(location, id, path)).catch(() => undefined);
    out[path] = bytes ? sha256Digest(bytes) : 'missing';
  }
  return out;
}
