#!/usr/bin/env node
// Bundles the dashboard (web/) into dist/web: index.html, assets/app.js and assets/app.css, with
// Preact and uPlot inside — nothing is fetched from elsewhere at run time. Prints the gzipped size.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
await build({
  entryPoints: { app: join(root, 'web', 'src', 'main.tsx') },
  outdir: join(out, 'assets'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(root, 'web', 'index.html'), join(out, 'index.html'));
const gz = (f) => gzipSync(readFileSync(join(out, f)), { level: 9 }).length;
const total = ['index.html', 'assets/app.js', 'assets/app.css'].reduce((n, f) => n + gz(f), 0);
if (process.argv.includes('--verbose'))
  console.log(`dashboard: dist/web, ${(total / 1024).toFixed(1)} kB gzipped`);
