/**
 * The dashboard's static files (built by `npm run build` into dist/web), read once at start and
 * kept in memory with their gzip form and an ETag. Only files that exist at start are served.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Where the built dashboard is: dist/web beside dist/ui. */
export function defaultAssetsDir(): string {
  return fileURLToPath(new URL('../web/', import.meta.url));
}

/** Files by URL path (`/index.html`, `/assets/app.js`); empty when the dashboard was not built. */
export function loadAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  if (!existsSync(dir)) return out;
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else if (TYPES[extname(entry.name)]) {
        const body = readFileSync(join(dir, rel));
        out.set(`/${rel}`, {
          type: TYPES[extname(entry.name)]!,
          body,
          gzip: gzipSync(body, { level: 9 }),
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        });
      }
    }
  };
  walk('');
  return out;
}
