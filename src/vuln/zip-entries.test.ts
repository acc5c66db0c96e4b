import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { zipSync } from 'fflate';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { osvRecordsAt } from './source.js';
import { zipEntries } from './zip-entries.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-zip-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const text = (s: string) => new TextEncoder().encode(s);

/** A ZIP64 archive of stored entries, written by hand: every size and offset in the ZIP64 extra field. */
function zip64(entries: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, body] of entries) {
    const data = Buffer.from(body);
    const nameBytes = Buffer.from(name);
    const crc = crc32(data) >>> 0;
    const local = Buffer.alloc(30 + nameBytes.length + 20);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(0xffffffff, 18);
    local.writeUInt32LE(0xffffffff, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(20, 28);
    nameBytes.copy(local, 30);
    const lx = 30 + nameBytes.length;
    local.writeUInt16LE(1, lx);
    local.writeUInt16LE(16, lx + 2);
    local.writeBigUInt64LE(BigInt(data.length), lx + 4);
    local.writeBigUInt64LE(BigInt(data.length), lx + 12);
    const cd = Buffer.alloc(46 + nameBytes.length + 28);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(45, 4);
    cd.writeUInt16LE(45, 6);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(0xffffffff, 20);
    cd.writeUInt32LE(0xffffffff, 24);
    cd.writeUInt16LE(nameBytes.length, 28);
    cd.writeUInt16LE(28, 30);
    cd.writeUInt32LE(0xffffffff, 42);
    nameBytes.copy(cd, 46);
    const cx = 46 + nameBytes.length;
    cd.writeUInt16LE(1, cx);
    cd.writeUInt16LE(24, cx + 2);
    cd.writeBigUInt64LE(BigInt(data.length), cx + 4);
    cd.writeBigUInt64LE(BigInt(data.length), cx + 12);
    cd.writeBigUInt64LE(BigInt(offset), cx + 20);
    parts.push(local, data);
    central.push(cd);
    offset += local.length + data.length;
  }
  const cdBytes = Buffer.concat(central);
  const end64 = Buffer.alloc(56);
  end64.writeUInt32LE(0x06064b50, 0);
  end64.writeBigUInt64LE(44n, 4);
  end64.writeUInt16LE(45, 12);
  end64.writeUInt16LE(45, 14);
  end64.writeBigUInt64LE(BigInt(entries.length), 24);
  end64.writeBigUInt64LE(BigInt(entries.length), 32);
  end64.writeBigUInt64LE(BigInt(cdBytes.length), 40);
  end64.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(offset + cdBytes.length), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([...parts, cdBytes, end64, locator, end]);
}

describe('reading a zip entry by entry', () => {
  it('yields deflated and stored entries in name order, skipping what the filter leaves out', () => {
    const file = join(dir, 'osv.zip');
    writeFileSync(
      file,
      zipSync({
        'b.json': [text('{"id":"B"}'), { level: 0 }],
        'a.json': [text(`{"id":"A","pad":"${'x'.repeat(5000)}"}`), { level: 9 }],
        'README.txt': text('not a record'),
      }),
    );
    const got = [...zipEntries(file, (n) => n.endsWith('.json'))].map((e) => [e.name, e.data.length]);
    expect(got).toEqual([
      ['a.json', 5019],
      ['b.json', 10],
    ]);
  });

  it('reads ZIP64 archives (sizes and offsets in the extra field), as osv.dev publishes large ones', () => {
    const file = join(dir, 'big.zip');
    writeFileSync(
      file,
      zip64([
        ['GHSA-1.json', '{"id":"GHSA-1"}'],
        ['DSA-2.json', '{"id":"DSA-2"}'],
      ]),
    );
    const got = [...zipEntries(file, () => true)].map((e) => [e.name, e.data.toString()]);
    expect(got).toEqual([
      ['DSA-2.json', '{"id":"DSA-2"}'],
      ['GHSA-1.json', '{"id":"GHSA-1"}'],
    ]);
  });

  it('names the entry whose bytes are damaged, and refuses a truncated archive', () => {
    const file = join(dir, 'bad.zip');
    const bytes = Buffer.from(zipSync({ 'a.json': [text('{"id":"A","x":1}'), { level: 0 }] }));
    const at = bytes.indexOf('"x"');
    bytes[at + 1] = 'y'.charCodeAt(0);
    writeFileSync(file, bytes);
    expect(() => [...osvRecordsAt(file)]).toThrow(
      /bad\.zip is not a readable zip \(a\.json: its content does not match its CRC-32\)/,
    );
    writeFileSync(file, bytes.subarray(0, bytes.length - 30));
    expect(() => [...osvRecordsAt(file)]).toThrow(
      /not a readable zip \(no end-of-central-directory record\)/,
    );
  });
});
