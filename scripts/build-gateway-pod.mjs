#!/usr/bin/env node
// Bundles the in-cluster gateway pod's program (dist/gateway/cluster/pod-main.js, compiled by tsc)
// into one self-contained file, dist/gateway-pod/main.js: the gateway image holds node and this
// file only, no node_modules. CommonJS, so node runs it from a folder without a package.json (the
// package.json beside it here only undoes the repository's "type": "module" for local runs).
// Reproducible: paths in the output are relative to the repository, no time, no source map.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'gateway-pod');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/gateway/cluster/pod-main.js'],
  outfile: 'dist/gateway-pod/main.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  // node_modules may be a link (a worktree's): name files by the path they were found at.
  preserveSymlinks: true,
  logLevel: 'warning',
});
writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');
