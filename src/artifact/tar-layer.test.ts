import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildLayer, type LayerEntry, normaliseEntries, tarEntries } from './tar-layer.js';

const entries: LayerEntry[] = [
  { path: 'app/server.js', type: 'file', mode: 0o600, data: Buffer.from('console.log(1)\n') },
  { path: 'usr/bin/node', type: 'file', mode: 0o700, data: Buffer.from('binary') },
  { path: 'tmp', type: 'dir', mode: 0o1777 },
  { path: 'lib/libc.so', type: 'symlink', mode: 0, linkname: 'libc.so.6' },
];

function listTar(tarBytes: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-tar-'));
  try {
    writeFileSync(join(dir, 'l.tar'), tarBytes);
    return execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 'l.tar')], {
      encoding: 'utf8',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('reproducible layers', () => {
  it('gives the same bytes whatever order the entries come in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(entries, { minLength: entries.length }), async (shuffled) => {
        const a = await buildLayer(shuffled, 0);
        const b = await buildLayer(entries, 0);
        expect(a.digest).toBe(b.digest);
      }),
      { numRuns: 10 },
    );
  });

  it('writes sorted entries with parents, root ownership, normalised modes and the fixed mtime', async () => {
    const listing = listTar(await tarEntries(entries, 0));
    const lines = listing.trim().split('\n');
    expect(
      lines.map((l) =>
        l.split(/\s+/).at(-1) === 'libc.so.6' ? l.split(/\s+/).at(-3) : l.split(/\s+/).at(-1),
      ),
    ).toEqual(['app/', 'app/server.js', 'lib/', 'lib/libc.so', 'tmp/', 'usr/', 'usr/bin/', 'usr/bin/node']);
    expect(listing).toContain('-rw-r--r-- 0/0');
    expect(listing).toContain('-rwxr-xr-x 0/0');
    expect(listing).toContain('drwxrwxrwt 0/0');
    for (const line of lines) expect(line).toContain('1970-01-01 00:00:00');
  });

  it('marks directories and symlinks with their ustar type flags', async () => {
    const raw = await tarEntries(entries, 0);
    const flags = new Map<string, string>();
    for (let off = 0; off + 512 <= raw.length && raw[off] !== 0; ) {
      const name = raw
        .subarray(off, off + 100)
        .toString('utf8')
        .replace(/\0.*$/s, '');
      const size = Number.parseInt(
        raw
          .subarray(off + 124, off + 136)
          .toString('utf8')
          .replace(/\0.*$/s, '')
          .trim() || '0',
        8,
      );
      flags.set(name, String.fromCharCode(raw[off + 156]!));
      off += 512 + Math.ceil(size / 512) * 512;
    }
    expect(flags.get('tmp/')).toBe('5');
    expect(flags.get('lib/libc.so')).toBe('2');
    expect(flags.get('usr/bin/node')).toBe('0');
  });

  it('uses SOURCE_DATE_EPOCH as the mtime', async () => {
    const listing = listTar(await tarEntries(entries.slice(0, 1), 1_700_000_000));
    expect(listing).toContain('2023-11-14');
  });

  it('writes a gzip header with no time and a fixed OS byte, and a diff_id of the raw tar', async () => {
    const layer = await buildLayer(entries, 0);
    expect([...layer.gzip.subarray(4, 8)]).toEqual([0, 0, 0, 0]);
    expect(layer.gzip[9]).toBe(0xff);
    expect(layer.gzip[3]! & 0x08).toBe(0);
    expect(gunzipSync(layer.gzip).equals(await tarEntries(entries, 0))).toBe(true);
    expect(layer.size).toBe(layer.gzip.byteLength);
  });

  it('refuses paths that climb out of the root', () => {
    expect(() => normaliseEntries([{ path: 'app/../etc/passwd', type: 'file', mode: 0o644 }])).toThrow(
      /not normalised/,
    );
  });
});
