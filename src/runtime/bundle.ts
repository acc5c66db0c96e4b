/**
 * Prepares a bundle: verifies the manifest, config and every layer against their digests before
 * writing anything, applies the layers in order into a private folder, lists every file, then
 * publishes the folder as `.cairn/bundles/<hex>` with one rename. A bundle that exists is reused.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  canonicalJson,
  digestHex,
  IntegrityError,
  sha256Digest,
  shortDigest,
  ValidationError,
} from '../lib/index.js';
import { sealAndList } from './bundle-files.js';
import { bundleTempName, sweepBundleTemps } from './bundle-temps.js';
import { configFilePoints, makeConfigFilePoint } from './config-files.js';
import { imageProcess, type OciImageConfigJson } from './image-process.js';
import { type ApplyState, applyLayer } from './layer-apply.js';
import type { BlobSource, Bundle, FileEntry, ImageProcess } from './types.js';

const BUNDLE_FILE = 'bundle.json';
const MOUNT_POINTS = ['proc', 'dev', 'sys', 'tmp', 'run/secrets'];
/** /tmp as every distribution has it; a tmpfs mounted there takes this mode. */
const TMP_MODE = 0o1777;
/**
 * The mode of a folder the image declares as a mount point (OCI `Volumes`: cairn's run.tmpfs and
 * volume paths). runc gives a tmpfs the mode of the folder it is mounted on, and cairn makes that
 * tmpfs the image user's: 0700, so the app (and nothing else) can write there.
 */
export const MOUNT_POINT_MODE = 0o700;
const FILES_FILE = 'files.json';
const GZIP_LAYERS = [
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
];
const TAR_LAYERS = ['application/vnd.oci.image.layer.v1.tar', 'application/vnd.docker.image.rootfs.diff.tar'];

interface ManifestJson {
  config?: { digest?: string };
  layers?: Array<{ digest?: string; mediaType?: string }>;
}

interface BundleRecord {
  imageDigest: string;
  configDigest: string;
  layers: string[];
  process: ImageProcess;
  filesDigest: string;
  /** The image's declared mount points (`Volumes`), each a folder of the rootfs with MOUNT_POINT_MODE. */
  mountPoints?: string[];
}

/** Reads a blob and refuses it unless its bytes hash to `digest`. */
export async function readVerified(source: BlobSource, digest: string, what: string): Promise<Buffer> {
  const bytes = await source.readBlob(digest);
  const actual = sha256Digest(bytes);
  if (actual !== digest) {
    throw new IntegrityError(`verifying ${what} ${digest}: its bytes hash to ${actual}`, {
      hint: 'the image store was modified; re-fetch or rebuild the image',
    });
  }
  return bytes;
}

/** Returns the bundle of `imageDigest`, unpacking it under `bundlesDir` first when needed. */
export async function prepareBundle(
  source: BlobSource,
  imageDigest: string,
  bundlesDir: string,
): Promise<Bundle> {
  const dir = join(bundlesDir, digestHex(imageDigest));
  if (existsSync(join(dir, BUNDLE_FILE))) return loadBundle(dir, false);
  const image = await verifyImage(source, imageDigest);
  await mkdir(bundlesDir, { recursive: true, mode: 0o700 });
  await sweepBundleTemps(bundlesDir);
  const name = bundleTempName(shortDigest(imageDigest), process.pid, randomBytes(4).toString('hex'));
  const tmp = join(bundlesDir, name);
  try {
    await unpackInto(tmp, image);
    await rename(tmp, dir).catch(async (error: NodeJS.ErrnoException) => {
      // Another caller published the same digest first; theirs is as good as ours.
      if (!existsSync(join(dir, BUNDLE_FILE))) throw error;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  return loadBundle(dir, true);
}

interface VerifiedImage {
  digest: string;
  configDigest: string;
  config: OciImageConfigJson & { rootfs?: { diff_ids?: string[] } };
  layers: Array<{ digest: string; gzip: boolean; bytes: Buffer }>;
}

async function verifyImage(source: BlobSource, imageDigest: string): Promise<VerifiedImage> {
  const manifest = parseJson<ManifestJson>(await readVerified(source, imageDigest, 'manifest'), imageDigest);
  const configDigest = manifest.config?.digest;
  if (!configDigest || !Array.isArray(manifest.layers)) {
    throw new ValidationError(
      `preparing image ${imageDigest}: not an image manifest (no config or layers)`,
      [],
    );
  }
  const config = parseJson<VerifiedImage['config']>(
    await readVerified(source, configDigest, 'config'),
    configDigest,
  );
  const layers: VerifiedImage['layers'] = [];
  for (const layer of manifest.layers) {
    const gzip = GZIP_LAYERS.includes(layer.mediaType ?? '');
    if (!gzip && !TAR_LAYERS.includes(layer.mediaType ?? '')) {
      throw new ValidationError(
        `preparing image ${imageDigest}: layer media type ${layer.mediaType} is not supported`,
        [],
        {
          hint: 'cairn unpacks tar and tar+gzip layers',
        },
      );
    }
    layers.push({
      digest: layer.digest ?? '',
      gzip,
      bytes: await readVerified(source, layer.digest ?? '', 'layer'),
    });
  }
  return { digest: imageDigest, configDigest, config, layers };
}

async function unpackInto(tmp: string, image: VerifiedImage): Promise<void> {
  const rootfs = join(tmp, 'rootfs');
  await mkdir(rootfs, { recursive: true, mode: 0o755 });
  const state: ApplyState = { root: rootfs, dirModes: new Map(), chown: process.getuid?.() === 0 };
  const diffIds = image.config.rootfs?.diff_ids ?? [];
  for (const [i, layer] of image.layers.entries()) {
    const diffId = await applyLayer(state, layer.bytes, layer.gzip, layer.digest);
    // A mismatch throws before the bundle is published; the private folder is then removed.
    if (diffIds[i] !== undefined && diffId !== diffIds[i]) {
      throw new IntegrityError(
        `verifying layer ${layer.digest}: its content does not match diff_id ${diffIds[i]}`,
      );
    }
  }
  const etc = {
    passwd: await readFile(join(rootfs, 'etc/passwd'), 'utf8').catch(() => undefined),
    group: await readFile(join(rootfs, 'etc/group'), 'utf8').catch(() => undefined),
  };
  const proc = imageProcess(image.config, etc, image.digest);
  // Mount points must exist before sealing: a runtime must never create them in a shared bundle.
  for (const point of MOUNT_POINTS) await makeMountPoint(rootfs, point);
  if (!state.dirModes.has('tmp')) state.dirModes.set('tmp', TMP_MODE);
  const mountPoints = Object.keys(image.config.config?.Volumes ?? {}).sort();
  for (const point of mountPoints) {
    await makeDeclaredMountPoint(rootfs, point, image.digest);
    state.dirModes.set(point.slice(1), MOUNT_POINT_MODE);
  }
  for (const point of configFilePoints(image.config.config?.Labels ?? undefined, image.digest))
    await makeConfigFilePoint(rootfs, point, image.digest);
  const exact = new Set(mountPoints.map((p) => p.slice(1)));
  const files = canonicalJson(await sealAndList(rootfs, state.dirModes, exact));
  const record: BundleRecord = {
    imageDigest: image.digest,
    configDigest: image.configDigest,
    layers: image.layers.map((l) => l.digest),
    process: proc,
    filesDigest: sha256Digest(files),
    ...(mountPoints.length > 0 ? { mountPoints } : {}),
  };
  await writeFile(join(tmp, FILES_FILE), files, { mode: 0o444 });
  await writeFile(join(tmp, BUNDLE_FILE), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o444 });
}

/** Creates a folder inside the root unless a component is a symlink (never followed out of the root). */
async function makeMountPoint(rootfs: string, point: string): Promise<void> {
  let current = rootfs;
  for (const part of point.split('/')) {
    current = join(current, part);
    const stat = await lstat(current).catch(() => undefined);
    if (stat && !stat.isDirectory()) return;
    if (!stat) await mkdir(current, { mode: 0o755 });
  }
}

/**
 * Creates a declared mount point (and missing parents). One that cannot be a folder — a file or a
 * symlink is in the way — fails the image: no runtime could mount on it, and retrying changes nothing.
 */
async function makeDeclaredMountPoint(rootfs: string, point: string, image: string): Promise<void> {
  if (!/^\/[^\0]*[^/]$/.test(point) || point.split('/').some((p) => p === '..' || p === '.')) {
    throw new ValidationError(
      `preparing image ${image}: mount point "${point}" is not a clean absolute path`,
      [],
    );
  }
  let current = rootfs;
  for (const part of point.slice(1).split('/')) {
    current = join(current, part);
    const stat = await lstat(current).catch(() => undefined);
    if (stat && !stat.isDirectory()) {
      throw new ValidationError(
        `preparing image ${image}: cannot mount on ${point}: the image has a ${stat.isSymbolicLink() ? 'symlink' : 'file'} at ${current.slice(rootfs.length)}`,
        [],
        {
          hint: `choose another run.tmpfs/volume path, or remove ${current.slice(rootfs.length)} from the image`,
        },
      );
    }
    if (!stat) await mkdir(current, { mode: 0o755 });
  }
}

async function loadBundle(dir: string, unpacked: boolean): Promise<Bundle> {
  const record = JSON.parse(await readFile(join(dir, BUNDLE_FILE), 'utf8')) as BundleRecord;
  return {
    imageDigest: record.imageDigest,
    dir,
    rootfs: join(dir, 'rootfs'),
    process: record.process,
    filesDigest: record.filesDigest,
    mountPoints: record.mountPoints ?? [],
    unpacked,
  };
}

function parseJson<T>(bytes: Buffer, digest: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (error) {
    throw new ValidationError(`reading ${digest}: not JSON`, [], { cause: error });
  }
}

/** The file manifest (files.json) of a prepared bundle: what drift detection compares against. */
export async function bundleFiles(bundle: Pick<Bundle, 'dir'>): Promise<FileEntry[]> {
  return JSON.parse(await readFile(join(bundle.dir, FILES_FILE), 'utf8')) as FileEntry[];
}
