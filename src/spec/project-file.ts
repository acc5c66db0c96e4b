/**
 * The file-system edge of path containment: the project root, and reading a file a spec names so
 * that it cannot be a host file. A file is resolved, checked, opened without following a final
 * symlink and checked once more through the open descriptor, so a path swapped for a symlink
 * between the check and the read (TOCTOU) is refused rather than read.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { NotFoundError, ValidationError } from '../lib/index.js';
import { isInside, PROJECT_ROOT_ENV } from './project-path.js';

/**
 * The largest cairn.yaml read: 4 MiB. The largest spec cairn is built for, 5,000 services
 * (bench/spec.mjs), is 2.8 MB; a 4 MiB spec parses in under a second, while a hostile 72 MB one
 * (13 s and 1 GB of memory to parse) is refused before a byte of it is parsed.
 */
export const MAX_SPEC_BYTES = 4 * 1024 * 1024;
/** The largest policy file read. Real policy files are a few KiB; CEL compilation cost grows with size. */
export const MAX_POLICY_BYTES = 256 * 1024;

/** The real path of what is at `path`, or undefined when nothing is there. */
export function realPathOf(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** The folder every path a spec names must stay in: $CAIRN_PROJECT_ROOT, or the folder of cairn.yaml. */
export function projectRoot(specDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = realPathOf(specDir) ?? resolve(specDir);
  const named = env[PROJECT_ROOT_ENV];
  if (!named) return dir;
  const root = realPathOf(resolve(named));
  if (root === undefined)
    throw new NotFoundError(`reading ${PROJECT_ROOT_ENV}: folder ${named} does not exist`, {
      hint: `unset ${PROJECT_ROOT_ENV}, or name the folder that holds the project (cairn.yaml and its files)`,
    });
  if (!isInside(root, dir))
    throw new ValidationError(`reading ${PROJECT_ROOT_ENV}: ${named} does not contain ${specDir}`, [], {
      hint: `name a folder that holds cairn.yaml, such as the repository's top folder`,
    });
  return root;
}

export interface ContainedRead {
  /** The path as the user wrote it, for messages. */
  shownAs: string;
  /** What `root` is, for messages (default: "the project folder"). */
  within?: string;
  /** Refuse a larger file before reading it. */
  maxBytes?: number;
}

/** Reads a regular file that must lie, symlinks followed, inside `root` (a real path). */
export function readContainedFile(root: string, path: string, opts: ContainedRead): Buffer {
  const real = realPathOf(path);
  if (real === undefined)
    throw new NotFoundError(`reading ${opts.shownAs}: no such file`, {
      hint: 'check the path; it is relative to cairn.yaml',
    });
  refuseOutside(root, real, opts);
  let fd: number;
  try {
    // O_NOFOLLOW: a final component replaced by a symlink since realpath fails with ELOOP.
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw unreadable(opts.shownAs, error);
  }
  try {
    // A folder on the way swapped for a symlink since realpath shows in the descriptor's own path.
    refuseOutside(root, descriptorPath(fd) ?? real, opts);
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new ValidationError(`reading ${opts.shownAs}: not a regular file`, [], {
        hint: 'name a file, not a folder, device or pipe',
      });
    if (opts.maxBytes !== undefined && st.size > opts.maxBytes)
      throw new FileTooLargeError(opts.shownAs, st.size, opts.maxBytes);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file refused before it is read or parsed because it is larger than cairn reads. */
export class FileTooLargeError extends ValidationError {
  constructor(shownAs: string, size: number, maxBytes: number) {
    super(
      `reading ${shownAs}: it is ${count(size)} bytes, more than the ${count(maxBytes)} (${formatBytes(maxBytes)}) cairn reads`,
      [],
      {
        hint: 'split it, or check that it is the file you meant (cairn.yaml and policy files are small)',
      },
    );
  }
}

function refuseOutside(root: string, real: string, opts: ContainedRead): void {
  if (isInside(root, real)) return;
  const within = opts.within ?? 'the project folder';
  throw new ValidationError(`reading ${opts.shownAs}: it leads to ${real}, outside ${within} ${root}`, [], {
    hint: `copy the file into ${within}; a spec may name only files inside it (see docs/security.md)`,
  });
}

function descriptorPath(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined; // no /proc: the O_NOFOLLOW open still stands
  }
}

function unreadable(shownAs: string, error: unknown): ValidationError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'EACCES'
      ? 'permission denied'
      : code === 'ELOOP'
        ? 'it became a symlink while being read'
        : (code ?? 'failed');
  return new ValidationError(`reading ${shownAs}: ${why}`, [], {
    hint: 'make the file readable by the user running cairn, and keep it a plain file',
    cause: error,
  });
}

const count = (n: number): string => n.toLocaleString('en-US');

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / 1024 / 1024).toFixed(1)} MiB`;
  return n >= 1024 ? `${+(n / 1024).toFixed(1)} KiB` : `${n} bytes`;
}
