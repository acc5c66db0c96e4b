/**
 * Observes one instance on this machine: the driver's view (is it running, which processes) and
 * its bundle (bundle.json, files.json and the rootfs re-hashed). A failure to observe becomes the
 * observation's `error`, so the verdict is `unknown`, never a silent in-sync.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, sha256Digest } from '../lib/index.js';
import type { FileEntry, InstanceHandle, RuntimeDriver } from '../runtime/index.js';
import { listRootfs } from './observe-files.js';
import { describeProcesses, runcPids } from './observe-processes.js';
import type { BundleClaim, ExpectedIdentity, Observation } from './types.js';

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
    if (driver.kind !== 'runc' || !seen.pid) return { instance, status: 'running', ...view };
    const list = await describeProcesses(await runcPids(ctx.runcRoot, handle.id));
    return { instance, status: 'running', ...view, processes: { initPid: seen.pid, list } };
  } catch (error) {
    return { instance, status: 'running', error: (error as Error).message };
  }
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
