import { describe, expect, it } from 'vitest';
import type { FileEntry } from '../runtime/index.js';
import { realPath, resolveCommand, resolveInterpreter, settleExecutable, shebangOf } from './executable.js';

const file = (path: string, mode = 0o755): FileEntry => ({
  path,
  type: 'file',
  mode,
  size: 1,
  digest: 'sha256:x',
});
const dir = (path: string): FileEntry => ({ path, type: 'dir', mode: 0o555, size: 0 });
const link = (path: string, target: string): FileEntry => ({
  path,
  type: 'symlink',
  mode: 0o777,
  size: 0,
  target,
});

const MANIFEST: FileEntry[] = [
  dir('/usr'),
  dir('/usr/bin'),
  dir('/usr/local'),
  dir('/usr/local/bin'),
  file('/usr/local/bin/node-20'),
  link('/usr/local/bin/node', 'node-20'),
  link('/bin', 'usr/bin'),
  file('/usr/bin/dash'),
  link('/usr/bin/sh', '/bin/dash'),
  dir('/app'),
  file('/app/server.js', 0o644),
  file('/app/start.sh'),
  link('/app/loop', '/app/loop'),
];
const request = (args: string[], env = ['PATH=/usr/local/bin:/usr/bin'], cwd = '/app') => ({
  args,
  env,
  cwd,
});

describe('resolveCommand', () => {
  it('finds a bare name along PATH and follows relative symlinks to the file', () => {
    expect(resolveCommand(MANIFEST, request(['node', 'server.js']))).toBe('/usr/local/bin/node-20');
  });

  it('follows absolute symlinks and symlinked folders inside the bundle, never the host', () => {
    expect(resolveCommand(MANIFEST, request(['/bin/sh']))).toBe('/usr/bin/dash');
    // As in the kernel, `..` after a symlinked folder leaves the folder the link points to.
    const entries = new Map(MANIFEST.map((e) => [e.path, e]));
    expect(realPath(entries, '/bin/../local/bin/./node')).toBe('/usr/local/bin/node-20');
  });

  it('resolves a relative path against the working folder', () => {
    expect(resolveCommand(MANIFEST, request(['./start.sh']))).toBe('/app/start.sh');
  });

  it('uses the default PATH when the image sets none, and the last PATH when it sets several', () => {
    expect(resolveCommand(MANIFEST, request(['dash'], []))).toBe('/usr/bin/dash');
    expect(resolveCommand(MANIFEST, request(['node'], ['PATH=/nowhere', 'PATH=/usr/bin']))).toBeUndefined();
  });

  it('gives nothing for a missing program, a file without exec bits, or a symlink loop', () => {
    expect(resolveCommand(MANIFEST, request(['python3']))).toBeUndefined();
    expect(resolveCommand(MANIFEST, request(['/app/server.js']))).toBeUndefined();
    expect(resolveCommand(MANIFEST, request(['/app/loop']))).toBeUndefined();
    expect(resolveCommand(MANIFEST, request([]))).toBeUndefined();
  });
});

describe('shebangOf', () => {
  it('reads the interpreter and its one argument, which are then resolved in the bundle', () => {
    expect(shebangOf('#!/bin/sh -e\necho hi\n')).toEqual({ interpreter: '/bin/sh', arg: '-e' });
    expect(shebangOf('#! /usr/bin/env node\n')).toEqual({ interpreter: '/usr/bin/env', arg: 'node' });
    expect(shebangOf('#!/usr/local/bin/node\n')).toEqual({ interpreter: '/usr/local/bin/node' });
    expect(resolveInterpreter(MANIFEST, '/bin/sh')).toBe('/usr/bin/dash');
  });

  it('gives nothing for a binary or a relative interpreter', () => {
    expect(shebangOf('\x7fELF\x02\x01')).toBeUndefined();
    expect(shebangOf('#!sh\n')).toBeUndefined();
  });
});

describe('settleExecutable', () => {
  const manifest = [...MANIFEST, file('/usr/bin/env'), link('/usr/bin/bash', 'dash')];
  const req = request([]);

  it('expects the program itself when it is neither env nor a shell', () => {
    expect(settleExecutable(manifest, '/usr/local/bin/node-20', ['server.js'], req)).toBe(
      '/usr/local/bin/node-20',
    );
  });

  it('expects what env runs, skipping its options and assignments', () => {
    expect(settleExecutable(manifest, '/usr/bin/env', ['-i', 'A=1', 'node', 'server.js'], req)).toBe(
      '/usr/local/bin/node-20',
    );
    expect(settleExecutable(manifest, '/usr/bin/env', ['A=1'], req)).toBeUndefined();
  });

  it('expects nothing of a shell, which usually execs the real program (not checked, never a false alarm)', () => {
    expect(settleExecutable(manifest, '/usr/bin/dash', ['-c', 'exec node server.js'], req)).toBeUndefined();
    expect(settleExecutable(manifest, '/usr/bin/bash', ['/app/start.sh'], req)).toBeUndefined();
  });
});
