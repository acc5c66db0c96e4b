/**
 * Applies one uncompressed OCI layer (a tar) onto a root folder being assembled: plain entries,
 * whiteouts and opaque folders, in archive order. Nothing is ever written outside the root: entry
 * names are normalised and no entry may pass through a symlink the image itself created.
 */

import { createHash } from 'node:crypto';
import { chmod, lchown, link, lstat, mkdir, open, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { IntegrityError } from '../lib/index.js';
import { bundleMode, classifyEntry, isInside, normalizeEntryPath } from './layer-entry.js';

const IMPLICIT_DIR_MODE = 0o755;
const FEED_BYTES = 1 << 20;

/** State kept across layers: final folder modes are set once, after the last layer. */
export interface ApplyState {
  root: string;
  dirModes: Map<string, number>;
  /** Whether to chown entries to the image's uid/gid (only root can). */
  chown: boolean;
}

/**
 * Applies one layer blob onto `state.root`, decompressing as it goes, and returns the sha256 digest
 * of the uncompressed tar (the layer's diff_id) for the caller to check before publishing.
 */
export async function applyLayer(
  state: ApplyState,
  blob: Buffer,
  gzip: boolean,
  layer: string,
): Promise<string> {
  const written = new Set<string>();
  const safeDirs = new Set<string>(['']);
  const extract = tar.extract();
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  // Streamed in slices: one huge write makes the tar parser copy the remainder again and again.
  const stages: NodeJS.ReadWriteStream[] = gzip ? [createGunzip(), hashing] : [hashing];
  const feeding = pipeline([
    Readable.from(slices(blob)),
    ...stages,
    extract as unknown as NodeJS.WritableStream,
  ]);
  feeding.catch(() => undefined);
  for await (const entry of extract) {
    await applyEntry(state, entry.header, entry as unknown as Entry, written, safeDirs, layer);
    entry.resume();
  }
  await feeding;
  return `sha256:${hash.digest('hex')}`;
}

function* slices(bytes: Buffer): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += FEED_BYTES) yield bytes.subarray(at, at + FEED_BYTES);
}

type Entry = AsyncIterable<Buffer> & { resume(): unknown };

async function applyEntry(
  state: ApplyState,
  header: tar.Header,
  stream: Entry,
  written: Set<string>,
  safeDirs: Set<string>,
  layer: string,
): Promise<void> {
  const action = classifyEntry(header.name);
  if (action.kind === 'opaque') {
    await ensureDir(state.root, action.dir, safeDirs, layer);
    await hideLowerChildren(state.root, action.dir, written);
    return;
  }
  await ensureParents(state.root, action.path, safeDirs, layer);
  if (action.kind === 'whiteout') {
    await rm(join(state.root, action.path), { recursive: true, force: true });
    safeDirs.clear();
    safeDirs.add('');
    return;
  }
  if (action.path === '') {
    return;
  }
  written.add(action.path);
  await writeEntry(state, action.path, header, stream, safeDirs, layer);
}

async function writeEntry(
  state: ApplyState,
  path: string,
  header: tar.Header,
  stream: Entry,
  safeDirs: Set<string>,
  layer: string,
): Promise<void> {
  const target = join(state.root, path);
  const existing = await lstat(target).catch(() => undefined);
  if (header.type === 'directory') {
    if (existing && !existing.isDirectory()) await rm(target, { force: true });
    if (!existing?.isDirectory()) await mkdir(target, { mode: IMPLICIT_DIR_MODE });
    state.dirModes.set(path, header.mode ?? IMPLICIT_DIR_MODE);
    safeDirs.add(path);
  } else {
    if (existing) await rm(target, { recursive: true, force: true });
    safeDirs.delete(path);
    if (header.type === 'file' || header.type === 'contiguous-file') {
      await writeStream(stream, target);
      await chmod(target, bundleMode(header.mode ?? 0o644));
    } else if (header.type === 'symlink') {
      await symlink(header.linkname ?? '', target);
    } else if (header.type === 'link') {
      const source = normalizeEntryPath(header.linkname ?? '');
      await ensureParents(state.root, source, safeDirs, layer);
      await link(join(state.root, source), target);
    } else {
      // Devices and fifos are not created: instances get their /dev from the runtime.
      return;
    }
  }
  if (state.chown) await lchown(target, header.uid ?? 0, header.gid ?? 0);
}

async function writeStream(stream: Entry, target: string): Promise<void> {
  const file = await open(target, 'wx', 0o600);
  try {
    for await (const chunk of stream) await file.write(chunk);
  } finally {
    await file.close();
  }
}

/** Makes sure every parent folder of `path` is a real folder inside the root (creating missing ones). */
async function ensureParents(
  root: string,
  path: string,
  safeDirs: Set<string>,
  layer: string,
): Promise<void> {
  const slash = path.lastIndexOf('/');
  if (slash > 0) await ensureDir(root, path.slice(0, slash), safeDirs, layer);
}

async function ensureDir(root: string, dir: string, safeDirs: Set<string>, layer: string): Promise<void> {
  if (safeDirs.has(dir)) return;
  let current = '';
  for (const part of dir.split('/')) {
    current = current ? `${current}/${part}` : part;
    if (safeDirs.has(current)) continue;
    const stat = await lstat(join(root, current)).catch(() => undefined);
    if (stat?.isSymbolicLink()) {
      throw new IntegrityError(`unpacking layer ${layer}: entry under "/${current}" goes through a symlink`, {
        hint: 'the image is malformed or hostile; rebuild it with `cairn build`',
      });
    }
    if (!stat) await mkdir(join(root, current), { mode: IMPLICIT_DIR_MODE });
    else if (!stat.isDirectory())
      throw new IntegrityError(`unpacking layer ${layer}: "/${current}" is not a folder`);
    safeDirs.add(current);
  }
}

/** An opaque folder keeps only what this layer wrote into it. */
async function hideLowerChildren(root: string, dir: string, written: Set<string>): Promise<void> {
  for (const name of await readdir(join(root, dir))) {
    const child = dir ? `${dir}/${name}` : name;
    const keep = written.has(child) || [...written].some((w) => isInside(w, child));
    if (!keep) await rm(join(root, child), { recursive: true, force: true });
  }
}
