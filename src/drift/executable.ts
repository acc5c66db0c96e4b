/**
 * The expected process: which file of the bundle the kernel runs as an instance's init. The first
 * argument is looked up the way the runtime does (a path as is, relative to the working folder; a
 * bare name along the image's PATH), symlinks are followed inside the bundle's file manifest, and a
 * script is run by its `#!` interpreter. Pure: the manifest stands in for the file system.
 */
import { posix } from 'node:path';
import type { FileEntry } from '../runtime/index.js';

/** runc's PATH when the image sets none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Linux's limit of symlinks followed while resolving one path. */
const MAX_SYMLINKS = 40;
const EXEC_BITS = 0o111;

/** What the image asks the runtime to run. */
export interface ExecRequest {
  args: string[];
  env: string[];
  cwd: string;
}

/** Follows symlinks through the manifest; undefined when a component does not exist or links loop. */
export function realPath(entries: ReadonlyMap<string, FileEntry>, path: string): string | undefined {
  let pending = path.split('/').filter((p) => p !== '');
  let resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const entry = entries.get(`/${[...resolved, part].join('/')}`);
    if (!entry) return undefined;
    if (entry.type === 'symlink') {
      if (++links > MAX_SYMLINKS) return undefined;
      const target = entry.target ?? '';
      if (target.startsWith('/')) resolved = [];
      pending = [...target.split('/').filter((p) => p !== ''), ...pending];
      continue;
    }
    resolved.push(part);
  }
  return `/${resolved.join('/')}`;
}

/** The executable regular file `path` resolves to, or undefined. */
function executableAt(entries: ReadonlyMap<string, FileEntry>, path: string): string | undefined {
  const real = realPath(entries, path);
  const entry = real === undefined ? undefined : entries.get(real);
  return entry?.type === 'file' && (entry.mode & EXEC_BITS) !== 0 ? real : undefined;
}

/**
 * The bundle path of the program `request.args[0]` names, before any `#!` (see `interpreterOf`).
 *
 * @example
 * resolveCommand(manifest, { args: ['node', 'server.js'], env: ['PATH=/usr/bin'], cwd: '/app' })
 * // '/usr/bin/node' (or where its symlink leads)
 */
export function resolveCommand(manifest: readonly FileEntry[], request: ExecRequest): string | undefined {
  const entries = new Map(manifest.map((e) => [e.path, e]));
  const name = request.args[0];
  if (!name) return undefined;
  if (name.includes('/')) return executableAt(entries, posix.resolve(request.cwd || '/', name));
  const pathVar = [...request.env].reverse().find((e) => e.startsWith('PATH='));
  const dirs = (pathVar ? pathVar.slice('PATH='.length) : DEFAULT_PATH).split(':');
  for (const dir of dirs) {
    if (!dir.startsWith('/')) continue;
    const found = executableAt(entries, posix.join(dir, name));
    if (found) return found;
  }
  return undefined;
}

/** The interpreter a script's first line names (`#!/bin/sh -e` → `/bin/sh`), or undefined. */
export function interpreterOf(firstBytes: string): string | undefined {
  if (!firstBytes.startsWith('#!')) return undefined;
  const line = firstBytes.slice(2).split('\n')[0]!.trim();
  const interpreter = line.split(/[ \t]/)[0];
  return interpreter?.startsWith('/') ? interpreter : undefined;
}

/** The executable that runs once the kernel has followed a script's `#!` line (one level). */
export function resolveInterpreter(manifest: readonly FileEntry[], interpreter: string): string | undefined {
  return executableAt(new Map(manifest.map((e) => [e.path, e])), interpreter);
}
