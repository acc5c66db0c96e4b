/**
 * A zip's entries read one at a time from the file: the central directory from the end (ZIP64
 * sizes and offsets included, as osv.dev's large per-ecosystem zips need), then each entry's bytes
 * from its local header, inflated and CRC-checked on its own. Memory holds the directory and one
 * entry, never the whole archive. Only stored (0) and deflated (8) entries, as OSV zips have.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32, inflateRawSync } from 'node:zlib';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
}

function read(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new ZipError(`the file ends at ${position + done}, inside a record`);
    done += n;
  }
  return buf;
}

const u64 = (buf: Buffer, at: number): number => {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError('a ZIP64 size is out of range');
  return Number(v);
};

/** The central directory: where it starts, how long it is, how many entries it lists. */
function directory(fd: number, size: number): { offset: number; length: number; count: number } {
  const tailLength = Math.min(size, 22 + MAX_COMMENT);
  const tail = read(fd, size - tailLength, tailLength);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new ZipError('no end-of-central-directory record');
  let count = tail.readUInt16LE(at + 10);
  let length = tail.readUInt32LE(at + 12);
  let offset = tail.readUInt32LE(at + 16);
  if (count === 0xffff || length === 0xffffffff || offset === 0xffffffff) {
    const locatorAt = size - tailLength + at - 20;
    if (locatorAt < 0) throw new ZipError('a ZIP64 archive without its locator');
    const locator = read(fd, locatorAt, 20);
    if (locator.readUInt32LE(0) !== ZIP64_LOCATOR) throw new ZipError('a ZIP64 archive without its locator');
    const record = read(fd, u64(locator, 8), 56);
    if (record.readUInt32LE(0) !== ZIP64_EOCD) throw new ZipError('the ZIP64 end record is missing');
    count = u64(record, 32);
    length = u64(record, 40);
    offset = u64(record, 48);
  }
  if (offset + length > size) throw new ZipError('the central directory lies beyond the end of the file');
  return { offset, length, count };
}

/** The entries the central directory lists. */
export function listZip(fd: number): ZipEntry[] {
  const size = fstatSync(fd).size;
  const dir = directory(fd, size);
  const cd = read(fd, dir.offset, dir.length);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < dir.count; i++) {
    if (at + 46 > cd.length || cd.readUInt32LE(at) !== CENTRAL)
      throw new ZipError(`central directory entry ${i} is damaged`);
    const nameLength = cd.readUInt16LE(at + 28);
    const extraLength = cd.readUInt16LE(at + 30);
    const commentLength = cd.readUInt16LE(at + 32);
    const entry: ZipEntry = {
      name: cd.toString('utf8', at + 46, at + 46 + nameLength),
      method: cd.readUInt16LE(at + 10),
      crc: cd.readUInt32LE(at + 16),
      compressedSize: cd.readUInt32LE(at + 20),
      size: cd.readUInt32LE(at + 24),
      offset: cd.readUInt32LE(at + 42),
    };
    // ZIP64 extended information (0x0001): the 64-bit values of the fields that read 0xFFFFFFFF.
    let x = at + 46 + nameLength;
    const end = x + extraLength;
    while (x + 4 <= end) {
      const id = cd.readUInt16LE(x);
      const len = cd.readUInt16LE(x + 2);
      if (id === 0x0001) {
        let p = x + 4;
        for (const field of ['size', 'compressedSize', 'offset'] as const) {
          if (entry[field] === 0xffffffff) {
            entry[field] = u64(cd, p);
            p += 8;
          }
        }
      }
      x += 4 + len;
    }
    entries.push(entry);
    at = end + commentLength;
  }
  return entries;
}

/** The bytes of one entry, inflated and checked against its CRC-32. */
export function readZipEntry(fd: number, entry: ZipEntry): Buffer {
  const local = read(fd, entry.offset, 30);
  if (local.readUInt32LE(0) !== LOCAL) throw new ZipError(`${entry.name}: its local header is missing`);
  const start = entry.offset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  const raw = read(fd, start, entry.compressedSize);
  let data: Buffer;
  if (entry.method === 0) data = raw;
  else if (entry.method === 8) {
    try {
      data = inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) });
    } catch (error) {
      throw new ZipError(`${entry.name}: ${(error as Error).message}`);
    }
  } else throw new ZipError(`${entry.name}: compression method ${entry.method} is not supported`);
  if (data.length !== entry.size || crc32(data) >>> 0 !== entry.crc >>> 0)
    throw new ZipError(`${entry.name}: its content does not match its CRC-32`);
  return data;
}

/** Every entry whose name passes `keep`, in name order, one at a time. */
export function* zipEntries(
  path: string,
  keep: (name: string) => boolean,
): Generator<{ name: string; data: Buffer }> {
  const fd = openSync(path, 'r');
  try {
    const entries = listZip(fd)
      .filter((e) => keep(e.name) && !e.name.endsWith('/'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) yield { name: entry.name, data: readZipEntry(fd, entry) };
  } finally {
    closeSync(fd);
  }
}
