import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../lib/index.js';
import type { FileEntry } from '../runtime/index.js';
import { bundleRootHash, manifestLeaf } from './merkle-root.js';

const sha = (...parts: (string | Buffer)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const leaf = (json: string) => sha(Buffer.from([0]), json);
const node = (l: Buffer, r: Buffer) => sha(Buffer.from([1]), l, r);

const APP: FileEntry = { path: '/app', type: 'dir', mode: 0o555, size: 0 };
const SERVER: FileEntry = {
  path: '/app/server.js',
  type: 'file',
  mode: 0o444,
  size: 15,
  digest: `sha256:${'a'.repeat(64)}`,
};
const SH: FileEntry = { path: '/bin/sh', type: 'symlink', mode: 0o777, size: 0, target: 'dash' };

describe('bundleRootHash', () => {
  it('is the RFC 6962 tree head over the canonical JSON of each entry, sorted by path', () => {
    const [a, b, c] = [APP, SERVER, SH].map((e) => leaf(manifestLeaf(e)));
    // Three leaves split 2 + 1: node(node(a, b), c).
    const expected = node(node(a!, b!), c!).toString('hex');
    expect(bundleRootHash([SH, APP, SERVER])).toBe(`sha256:${expected}`);
    expect(manifestLeaf(SERVER)).toBe(
      `{"digest":"sha256:${'a'.repeat(64)}","mode":292,"path":"/app/server.js","size":15,"type":"file"}`,
    );
  });

  it('of an empty manifest is SHA-256 of nothing; of one entry, its leaf hash', () => {
    expect(bundleRootHash([])).toBe(`sha256:${sha().toString('hex')}`);
    expect(bundleRootHash([SH])).toBe(`sha256:${leaf(manifestLeaf(SH)).toString('hex')}`);
  });

  it('ignores key order and fields a manifest entry does not have', () => {
    const reordered = { target: 'dash', size: 0, mode: 0o777, type: 'symlink', path: '/bin/sh' } as FileEntry;
    const extra = { ...SH, atime: 12345 } as FileEntry;
    expect(bundleRootHash([reordered])).toBe(bundleRootHash([SH]));
    expect(bundleRootHash([extra])).toBe(bundleRootHash([SH]));
  });

  it('changes with any one change a drift check looks for', () => {
    const base = bundleRootHash([APP, SERVER, SH]);
    const variants: FileEntry[][] = [
      [APP, { ...SERVER, digest: `sha256:${'b'.repeat(64)}` }, SH],
      [APP, { ...SERVER, size: 16 }, SH],
      [APP, { ...SERVER, mode: 0o4444 }, SH],
      [APP, SERVER, { ...SH, target: '/tmp/evil' }],
      [APP, SERVER, { ...SH, type: 'file', target: undefined }],
      [APP, SERVER],
      [APP, SERVER, SH, { path: '/app/.hidden', type: 'file', mode: 0o644, size: 0, digest: SERVER.digest }],
    ];
    const roots = variants.map(bundleRootHash);
    expect(new Set([base, ...roots]).size).toBe(variants.length + 1);
  });

  it('writes each leaf exactly as canonicalJson would (property)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const entry = fc.record(
      {
        path: text,
        type: fc.constantFrom('file', 'dir', 'symlink'),
        mode: fc.integer({ min: 0, max: 0o7777 }),
        size: fc.oneof(fc.nat(), fc.double({ noNaN: true, noDefaultInfinity: true })),
        digest: text,
        target: fc.oneof(text, fc.dictionary(text, fc.nat(), { maxKeys: 3 })),
        extra: text,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(entry, (e) => {
        const { path, type, mode, size, digest, target } = e;
        expect(manifestLeaf(e as unknown as FileEntry)).toBe(
          canonicalJson({ path, type, mode, size, digest, target }),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on the order entries come in (property)', () => {
    const entry = fc.record({
      path: fc.stringMatching(/^\/[a-z]{1,6}(\/[a-z.]{1,6}){0,2}$/),
      type: fc.constantFrom('file' as const, 'dir' as const),
      mode: fc.integer({ min: 0, max: 0o7777 }),
      size: fc.nat(),
    });
    const unique = fc.uniqueArray(entry, { selector: (e) => e.path, maxLength: 40 });
    const withShuffle = unique.chain((entries) =>
      fc.tuple(fc.constant(entries), fc.shuffledSubarray(entries, { minLength: entries.length })),
    );
    fc.assert(
      fc.property(withShuffle, ([entries, shuffled]) => {
        expect(bundleRootHash(shuffled)).toBe(bundleRootHash(entries));
      }),
      { numRuns: 200 },
    );
  });
});
