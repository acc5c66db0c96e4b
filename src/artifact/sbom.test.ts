import { describe, expect, it } from 'vitest';
import { sha256Digest, sha256Hex } from '../lib/index.js';
import { buildSbom, validateSbom } from './sbom.js';
import { compareSbom } from './sbom-check.js';
import { type ImageFile, inventoryOf, nodeVersionFromBinary } from './sbom-inventory.js';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const NODE = Buffer.concat([
  Buffer.from('\x7fELF...'),
  Buffer.from('https://nodejs.org/download/release/v20.20.2/node-v20.20.2-headers.tar.gz'),
]);
const LIBC = Buffer.from('libc bytes');
const INTEGRITY = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;

const FILES: ImageFile[] = [
  { path: '/usr/bin/node', type: 'file', data: NODE },
  { path: '/usr/lib/x86_64-linux-gnu/libc.so.6', type: 'file', data: LIBC },
  { path: '/lib', type: 'symlink' },
  { path: '/app/server.js', type: 'file' },
  {
    path: '/app/package-lock.json',
    type: 'file',
    data: json({ lockfileVersion: 3, packages: { 'node_modules/left-pad': { integrity: INTEGRITY } } }),
  },
  {
    path: '/app/node_modules/left-pad/package.json',
    type: 'file',
    data: json({ name: 'left-pad', version: '1.3.0', license: 'WTFPL' }),
  },
  {
    path: '/app/node_modules/@acme/util/package.json',
    type: 'file',
    data: json({ name: '@acme/util', version: '2.0.0' }),
  },
  {
    path: '/app/node_modules/@acme/util/node_modules/left-pad/package.json',
    type: 'file',
    data: json({ name: 'left-pad', version: '1.0.0' }),
  },
  {
    path: '/app/node_modules/left-pad/test/fixture/package.json',
    type: 'file',
    data: json({ name: 'fixture', version: '0.0.0' }),
  },
];
const IMAGE = sha256Digest('manifest');
const OPTIONS = {
  imageDigest: IMAGE,
  imageName: 'hello',
  timestamp: new Date('2026-01-01T00:00:00Z'),
  debian: {
    '/usr/lib/x86_64-linux-gnu/libc.so.6': {
      package: 'libc6',
      version: '2.36-9+deb12u4',
      arch: 'amd64',
      distro: 'debian-12',
    },
  },
};

describe('image inventory', () => {
  it('finds npm packages (scoped, nested), the node runtime and shared libraries, not fixtures', () => {
    const inv = inventoryOf(FILES);
    expect(inv.npm.map((p) => `${p.path} ${p.name}@${p.version}`)).toEqual([
      '/app/node_modules/@acme/util @acme/util@2.0.0',
      '/app/node_modules/@acme/util/node_modules/left-pad left-pad@1.0.0',
      '/app/node_modules/left-pad left-pad@1.3.0',
    ]);
    expect(inv.npm.find((p) => p.path === '/app/node_modules/left-pad')?.integrity).toBe(INTEGRITY);
    expect(inv.runtimes).toEqual([
      { name: 'node', path: '/usr/bin/node', sha256: sha256Hex(NODE), version: '20.20.2' },
    ]);
    expect(inv.libraries).toEqual([{ path: '/usr/lib/x86_64-linux-gnu/libc.so.6', sha256: sha256Hex(LIBC) }]);
  });

  it('reads the real node version from the binary running this test', async () => {
    const { readFileSync } = await import('node:fs');
    expect(nodeVersionFromBinary(readFileSync(process.execPath))).toBe(process.versions.node);
  });
});

describe('CycloneDX SBOM', () => {
  it('is valid CycloneDX 1.6 (strict schema) with purls, versions and hashes', async () => {
    const text = buildSbom(inventoryOf(FILES), OPTIONS);
    expect(await validateSbom(text)).toBeUndefined();
    const bom = JSON.parse(text);
    expect(bom.specVersion).toBe('1.6');
    const purls = bom.components.map((c: { purl?: string }) => c.purl);
    expect(purls).toContain('pkg:npm/left-pad@1.3.0');
    expect(purls).toContain('pkg:npm/%40acme/util@2.0.0');
    expect(purls).toContain('pkg:generic/node@20.20.2');
    expect(purls).toContain('pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12');
    const leftPad = bom.components.find((c: { purl?: string }) => c.purl === 'pkg:npm/left-pad@1.3.0');
    expect(leftPad.hashes).toEqual([{ alg: 'SHA-512', content: '07'.repeat(64) }]);
  });

  it('is the same text for the same inputs', () => {
    expect(buildSbom(inventoryOf(FILES), OPTIONS)).toBe(buildSbom(inventoryOf(FILES), OPTIONS));
  });

  it('the strict validator rejects a broken document', async () => {
    const bom = JSON.parse(buildSbom(inventoryOf(FILES), OPTIONS));
    bom.components[0].type = 'gadget';
    expect(await validateSbom(JSON.stringify(bom))).toMatch(/type/);
  });
});

describe('comparing an SBOM with the image', () => {
  const sbom = () => JSON.parse(buildSbom(inventoryOf(FILES), OPTIONS));

  it('finds nothing to say when the SBOM was made from the same files', () => {
    expect(compareSbom(inventoryOf(FILES), sbom())).toEqual([]);
  });

  it('names a package the SBOM misses, a changed library and a component the image lacks', () => {
    const files = FILES.map((f) =>
      f.path.endsWith('libc.so.6') ? { ...f, data: Buffer.from('patched') } : f,
    );
    files.push({
      path: '/app/node_modules/evil/package.json',
      type: 'file',
      data: json({ name: 'evil', version: '6.6.6' }),
    });
    const problems = compareSbom(inventoryOf(files.filter((f) => !f.path.includes('@acme'))), sbom());
    expect(problems).toContain('npm package evil@6.6.6 at /app/node_modules/evil is not in the sbom');
    expect(problems).toContain(
      'shared library at /usr/lib/x86_64-linux-gnu/libc.so.6: the sbom has another sha256',
    );
    expect(problems).toContain(
      'the sbom lists /app/node_modules/@acme/util, which the image does not contain',
    );
  });
});
