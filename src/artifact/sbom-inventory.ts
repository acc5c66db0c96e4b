/**
 * What an image's file system contains, as an SBOM sees it: npm packages (every
 * `node_modules/<pkg>/package.json`), the node runtime, and the shared libraries. Pure: it takes
 * the files already read from the layers.
 */
import { posix } from 'node:path';
import { sha256Hex } from '../lib/index.js';

/** One path of the merged image file system; `data` is set for the files the inventory reads. */
export interface ImageFile {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  data?: Buffer;
}

export interface NpmPackage {
  name: string;
  version: string;
  /** The package's folder in the image, e.g. `/app/node_modules/@scope/name`. */
  path: string;
  /** Subresource-integrity string from the package-lock.json next to node_modules, when there is one. */
  integrity?: string;
  license?: string;
}

export interface RuntimeBinary {
  name: 'node';
  path: string;
  sha256: string;
  /** e.g. `20.20.2`, read from the binary; undefined when it cannot be told. */
  version?: string;
}

export interface LibraryFile {
  path: string;
  sha256: string;
}

export interface Inventory {
  npm: NpmPackage[];
  runtimes: RuntimeBinary[];
  libraries: LibraryFile[];
}

/** The CycloneDX property that ties a component to the path it was found at in the image. */
export const PATH_PROPERTY = 'cairn:image:path';

const NPM_MANIFEST = /^(.*)\/node_modules\/((?:@[^/]+\/)?[^/@][^/]*)\/package\.json$/;
const SHARED_LIBRARY = /\.so(\.\d+)*$/;
const NODE_BINARY = /^\/(usr\/(local\/)?)?bin\/node$/;
const NODE_VERSION = /^node-v(\d+\.\d+\.\d+)-headers/;
const NODE_VERSION_MARK = Buffer.from('node-v');
const NODE_VERSION_WINDOW = 40;

/** Whether the inventory needs the bytes of this file (so a layer reader can skip the rest). */
export function wantsContent(path: string): boolean {
  return (
    NPM_MANIFEST.test(path) ||
    posix.basename(path) === 'package-lock.json' ||
    NODE_BINARY.test(path) ||
    SHARED_LIBRARY.test(path)
  );
}

/** The node version compiled into a node binary (its headers URL names it). */
export function nodeVersionFromBinary(bytes: Buffer): string | undefined {
  // Buffer.indexOf scans natively; decoding 100 MB to a string for a regex would not
  for (let at = bytes.indexOf(NODE_VERSION_MARK); at >= 0; at = bytes.indexOf(NODE_VERSION_MARK, at + 1)) {
    const m = NODE_VERSION.exec(bytes.subarray(at, at + NODE_VERSION_WINDOW).toString('latin1'));
    if (m) return m[1];
  }
  return undefined;
}

export function inventoryOf(files: Iterable<ImageFile>): Inventory {
  const regular = [...files].filter((f) => f.type === 'file' && f.data !== undefined);
  const locks = lockfiles(regular);
  const npm = regular.flatMap((f) => npmPackage(f, locks));
  const runtimes: RuntimeBinary[] = regular
    .filter((f) => NODE_BINARY.test(f.path))
    .map((f) => ({
      name: 'node',
      path: f.path,
      sha256: sha256Hex(f.data!),
      version: nodeVersionFromBinary(f.data!),
    }));
  const libraries = regular
    .filter((f) => SHARED_LIBRARY.test(f.path) && !NPM_MANIFEST.test(f.path))
    .map((f) => ({ path: f.path, sha256: sha256Hex(f.data!) }));
  const byPath = <T extends { path: string }>(a: T, b: T) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { npm: npm.sort(byPath), runtimes: runtimes.sort(byPath), libraries: libraries.sort(byPath) };
}

type Lockfiles = Map<string, Record<string, { integrity?: string }>>;

/** package-lock.json files (v2/v3 `packages` map), by the folder they sit in. */
function lockfiles(files: ImageFile[]): Lockfiles {
  const locks: Lockfiles = new Map();
  for (const f of files) {
    if (posix.basename(f.path) !== 'package-lock.json') continue;
    try {
      const lock = JSON.parse(f.data!.toString('utf8')) as {
        packages?: Record<string, { integrity?: string }>;
      };
      if (lock.packages) locks.set(posix.dirname(f.path), lock.packages);
    } catch {
      // a malformed lockfile adds no integrity; the packages are still listed
    }
  }
  return locks;
}

function npmPackage(file: ImageFile, locks: Lockfiles): NpmPackage[] {
  if (!NPM_MANIFEST.test(file.path)) return [];
  let manifest: { name?: unknown; version?: unknown; license?: unknown };
  try {
    manifest = JSON.parse(file.data!.toString('utf8'));
  } catch {
    return [];
  }
  if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') return [];
  const dir = posix.dirname(file.path);
  // the lockfile sits next to the outermost node_modules and names nested packages by their full path
  const root = file.path.slice(0, file.path.indexOf('/node_modules/')) || '/';
  const integrity = locks.get(root)?.[posix.relative(root, dir)]?.integrity;
  return [
    {
      name: manifest.name,
      version: manifest.version,
      path: dir,
      ...(integrity ? { integrity } : {}),
      ...(typeof manifest.license === 'string' ? { license: manifest.license } : {}),
    },
  ];
}
