/**
 * Reproducible layers: a sorted tar with fixed ownership, times and modes, gzipped with a fixed
 * header. Pure (no file system): the same entries always give the same bytes.
 */
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { sha256Digest } from '../lib/index.js';

/** One thing in a layer. Paths are relative to the image root, without a leading slash. */
export interface LayerEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits; `normaliseMode` is applied unless the entry is a directory given explicitly. */
  mode: number;
  data?: Uint8Array;
  linkname?: string;
}

/** A finished layer: its gzip bytes, its digest, and the digest of the uncompressed tar (diff_id). */
export interface LayerBlob {
  gzip: Buffer;
  digest: string;
  diffId: string;
  size: number;
}

const DIR_MODE = 0o755;
const FILE_MODE = 0o644;
const EXEC_MODE = 0o755;
const SYMLINK_MODE = 0o777;
/** RFC 1952 OS byte: 255 = unknown. Node writes 3 on Linux and 19 on macOS; we fix it. */
const GZIP_OS_UNKNOWN = 0xff;
const GZIP_OS_OFFSET = 9;
const GZIP_LEVEL = 6;

/** Files are 0644, or 0755 when any execute bit is set; directories keep sticky bits (e.g. /tmp 1777). */
export function normaliseMode(type: LayerEntry['type'], mode: number): number {
  if (type === 'symlink') return SYMLINK_MODE;
  if (type === 'dir') return mode & 0o1000 ? 0o1777 : DIR_MODE;
  return mode & 0o111 ? EXEC_MODE : FILE_MODE;
}

/** Adds missing parent directories, drops duplicates (last wins), and sorts by path bytes. */
export function normaliseEntries(entries: LayerEntry[]): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>();
  for (const entry of entries) {
    const path = entry.path.replace(/^\/+/, '').replace(/\/+$/, '');
    if (path === '' || path.split('/').some((p) => p === '..' || p === '.')) {
      throw new TypeError(`layer entry path is not normalised: ${entry.path}`);
    }
    byPath.set(path, { ...entry, path, mode: normaliseMode(entry.type, entry.mode) });
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!byPath.has(parent)) byPath.set(parent, { path: parent, type: 'dir', mode: DIR_MODE });
    }
  }
  return [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** The uncompressed tar of the entries, in order, with mtime `mtimeSec`, uid/gid 0 and no user names. */
export async function tarEntries(entries: LayerEntry[], mtimeSec: number): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  const mtime = new Date(mtimeSec * 1000);
  for (const e of normaliseEntries(entries)) {
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const type = e.type === 'dir' ? 'directory' : e.type;
    const header: tar.Header = {
      ...{ name, mode: e.mode, uid: 0, gid: 0, uname: '', gname: '', mtime, type },
      ...{ size: 0, linkname: '', devmajor: 0, devminor: 0 },
    };
    if (e.type === 'symlink') await addEntry(pack, { ...header, linkname: e.linkname ?? '' });
    else if (e.type === 'dir') await addEntry(pack, header);
    else
      await addEntry(
        pack,
        { ...header, size: e.data?.byteLength ?? 0 },
        Buffer.from(e.data ?? new Uint8Array()),
      );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function addEntry(pack: tar.Pack, header: tar.Header, data?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (error?: Error | null) => (error ? reject(error) : resolve());
    if (data) pack.entry(header, data, cb);
    else pack.entry(header, cb);
  });
}

/** gzip with no name, mtime 0 and a fixed OS byte, so the bytes do not depend on the host. */
export function gzipReproducible(bytes: Uint8Array): Buffer {
  const out = gzipSync(bytes, { level: GZIP_LEVEL });
  out[GZIP_OS_OFFSET] = GZIP_OS_UNKNOWN;
  return out;
}

/** Builds a layer from entries: sorted tar → reproducible gzip, with both digests. */
export async function buildLayer(entries: LayerEntry[], mtimeSec: number): Promise<LayerBlob> {
  const raw = await tarEntries(entries, mtimeSec);
  const gzip = gzipReproducible(raw);
  return { gzip, digest: sha256Digest(gzip), diffId: sha256Digest(raw), size: gzip.byteLength };
}
