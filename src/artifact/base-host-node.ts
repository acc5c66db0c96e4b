/**
 * The `host:node` base: a minimal runtime root file system taken from this machine — the node
 * binary, the shared libraries `ldd` lists (with their symlink names), the dynamic loader, CA
 * certificates, passwd/group entries for the non-root uid 65532 and /tmp. No shell.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { posix } from 'node:path';
import { NotFoundError } from '../lib/index.js';
import type { LayerEntry } from './tar-layer.js';

export const HOST_NODE_BASE = 'host:node';
export const NONROOT_UID = 65532;
const CERTS_DIR = '/etc/ssl/certs';
const CERT_BUNDLE = 'ca-certificates.crt';
const LD_SO_CACHE = '/etc/ld.so.cache';
const MAX_LINK_DEPTH = 40;
const PASSWD = `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${NONROOT_UID}:${NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n`;
const GROUP = `root:x:0:\nnonroot:x:${NONROOT_UID}:\n`;
const NSSWITCH = 'passwd: files\ngroup: files\nhosts: files dns\n';

/** One host path to copy: a file (read later), or a symlink recorded as it is. */
interface HostItem {
  path: string;
  type: 'file' | 'symlink';
  linkname?: string;
  /** The host file to read for a `file` item. */
  source?: string;
  /** size, mtime, inode and mode: cheap change detection without reading the bytes. */
  fingerprint: string;
}

/** What the base will contain, and a key that changes whenever any of it changes on the host. */
export interface HostNodePlan {
  items: HostItem[];
  key: unknown;
}

/** Lists the host files of the base; throws NotFoundError when node or ldd cannot be found. */
export function planHostNode(nodePath: string = process.execPath): HostNodePlan {
  const items = new Map<string, HostItem>();
  const binary = realpathSync(nodePath);
  addHostPath('/usr/bin/node', binary, items);
  for (const lib of sharedLibraries(binary)) addHostPath(lib, lib, items);
  for (const name of readdirSync(CERTS_DIR).sort()) addCert(posix.join(CERTS_DIR, name), items);
  const sorted = [...items.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  return {
    items: sorted,
    key: { base: HOST_NODE_BASE, arch: process.arch, items: sorted, PASSWD, GROUP, NSSWITCH },
  };
}

/**
 * A cheap key for the whole base, checked before `planHostNode` (which runs ldd and stats every
 * file): the node binary, the loader cache that ldconfig rewrites whenever libraries change, and
 * the certificate folder and bundle. Any of those changing makes a full plan run again.
 */
export function hostNodeQuickKey(nodePath: string = process.execPath): unknown {
  const paths = [realpathSync(nodePath), LD_SO_CACHE, CERTS_DIR, posix.join(CERTS_DIR, CERT_BUNDLE)];
  return {
    base: HOST_NODE_BASE,
    arch: process.arch,
    paths,
    stats: paths.map((p) => (existsSync(p) ? fingerprint(p) : null)),
  };
}

/** Reads the planned files into layer entries (the expensive part, done only on a cache miss). */
export function hostNodeEntries(plan: HostNodePlan): LayerEntry[] {
  const entries: LayerEntry[] = plan.items.map((item) =>
    item.type === 'symlink'
      ? { path: item.path.slice(1), type: 'symlink', mode: 0o777, linkname: item.linkname! }
      : {
          path: item.path.slice(1),
          type: 'file',
          mode: statSync(item.source!).mode,
          data: readFileSync(item.source!),
        },
  );
  entries.push(
    { path: 'etc/passwd', type: 'file', mode: 0o644, data: Buffer.from(PASSWD) },
    { path: 'etc/group', type: 'file', mode: 0o644, data: Buffer.from(GROUP) },
    { path: 'etc/nsswitch.conf', type: 'file', mode: 0o644, data: Buffer.from(NSSWITCH) },
    { path: 'tmp', type: 'dir', mode: 0o1777 },
    { path: 'home/nonroot', type: 'dir', mode: 0o755 },
  );
  return entries;
}

function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  } catch (error) {
    throw new NotFoundError(`assembling the host:node base: \`ldd ${binary}\` failed`, {
      hint: 'host:node needs a dynamically linked node and ldd (glibc); use an oci: or registry base instead',
      cause: error,
    });
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

/** Copies a host path into the plan, recording every symlink met on the way (e.g. /lib64 → usr/lib64). */
function addHostPath(imagePath: string, hostPath: string, items: Map<string, HostItem>, depth = 0): void {
  if (depth > MAX_LINK_DEPTH)
    throw new NotFoundError(`assembling the host:node base: too many links at ${hostPath}`);
  if (imagePath !== hostPath) {
    const source = realpathSync(hostPath);
    items.set(imagePath, { path: imagePath, type: 'file', source, fingerprint: fingerprint(source) });
    return;
  }
  const parts = hostPath.split('/').filter(Boolean);
  let resolved = '';
  for (let i = 0; i < parts.length; i++) {
    const current = `${resolved}/${parts[i]}`;
    const st = lstatSync(current);
    if (st.isSymbolicLink()) {
      const link = readlinkSync(current);
      items.set(current, { path: current, type: 'symlink', linkname: link, fingerprint: link });
      const target = link.startsWith('/') ? link : posix.join(resolved || '/', link);
      addHostPath(
        posix.join(target, ...parts.slice(i + 1)),
        posix.join(target, ...parts.slice(i + 1)),
        items,
        depth + 1,
      );
      return;
    }
    resolved = current;
  }
  items.set(resolved, { path: resolved, type: 'file', source: resolved, fingerprint: fingerprint(resolved) });
}

/** Certificates are copied as files (their links point into /usr/share, which the base does not carry). */
function addCert(path: string, items: Map<string, HostItem>): void {
  const real = realpathSync(path);
  if (!statSync(real).isFile()) return;
  items.set(path, { path, type: 'file', source: real, fingerprint: fingerprint(real) });
}

function fingerprint(path: string): string {
  const st = statSync(path);
  return `${st.size}:${Math.floor(st.mtimeMs)}:${st.ino}:${(st.mode & 0o777).toString(8)}`;
}
