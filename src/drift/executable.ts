/**
 * The expected process: which file of the bundle the kernel runs as an instance's init. The first
 * argument is looked up the way the runtime does (a path as is, relative to the working folder; a
 * bare name along the image's PATH), symlinks are followed inside the bundle's file manifest, a
 * script is run by its `#!` interpreter, `env` by the program it names; a shell is not pinned, as it
 * usually `exec`s another program. Pure: the manifest stands in for the file system.
 */
import { posix } from 'node:path';
import type { FileEntry } from '../runtime/index.js';

/** runc's PATH when the image sets none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Linux's limit of symlinks followed while resolving one path. */
const MAX_SYMLINKS = 40;
const EXEC_BITS = 0o111;
/** Programs that run another one by `exec` more often than not. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'busybox']);

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
 * The bundle path of the program `request.args[0]` names, before any `#!` (see `shebangOf`).
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

/** A script's `#!` line: its interpreter and the one optional argument (`#!/usr/bin/env node`). */
export interface Shebang {
  interpreter: string;
  arg?: string;
}

/** The `#!` line of a script's first bytes (`#!/bin/sh -e` → `/bin/sh`, `-e`), or undefined. */
export function shebangOf(firstBytes: string): Shebang | undefined {
  if (!firstBytes.startsWith('#!')) return undefined;
  const line = firstBytes.slice(2).split('\n')[0]!.trim();
  const at = line.search(/[ \t]/);
  const interpreter = at < 0 ? line : line.slice(0, at);
  const arg = at < 0 ? '' : line.slice(at).trim();
  if (!interpreter.startsWith('/')) return undefined;
  return arg ? { interpreter, arg } : { interpreter };
}

/** The executable file an absolute interpreter path resolves to in the bundle. */
export function resolveInterpreter(manifest: readonly FileEntry[], interpreter: string): string | undefined {
  return executableAt(new Map(manifest.map((e) => [e.path, e])), interpreter);
}

/**
 * The file the init process keeps running, given the file the kernel runs first (`exe`) and the
 * arguments after it: `env` runs the program it names, so that program is expected; a shell
 * usually `exec`s the real program (`sh -c "exec …"`, entrypoint scripts), so nothing is expected
 * (the init process is then not checked rather than reported on every check).
 */
export function settleExecutable(
  manifest: readonly FileEntry[],
  exe: string,
  rest: string[],
  request: ExecRequest,
): string | undefined {
  const name = posix.basename(exe);
  if (SHELLS.has(name)) return undefined;
  if (name !== 'env') return exe;
  const program = rest.find((a) => !a.startsWith('-') && !a.includes('='));
  return program ? resolveCommand(manifest, { ...request, args: [program] }) : undefined;
}
