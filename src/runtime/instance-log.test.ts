import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '../lib/index.js';
import { findInstanceLog, followLog, lastLines, readFrom } from './instance-log.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-logs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('findInstanceLog', () => {
  it('finds by full id or unique prefix, and says what is wrong otherwise', () => {
    writeFileSync(join(dir, 'ins-01abc.log'), '');
    writeFileSync(join(dir, 'ins-01abd.log'), '');
    expect(findInstanceLog(dir, 'ins-01abc').id).toBe('ins-01abc');
    expect(() => findInstanceLog(dir, 'ins-01ab')).toThrow(ConflictError);
    expect(() => findInstanceLog(dir, 'ins-zz')).toThrow(NotFoundError);
    expect(() => findInstanceLog(join(dir, 'missing'), 'ins-01abc')).toThrow(/no instance with that id/);
  });
});

describe('lastLines', () => {
  it('keeps the last n lines and the final newline', () => {
    expect(lastLines('a\nb\nc\n', 2)).toBe('b\nc\n');
    expect(lastLines('a\nb', 1)).toBe('b');
    expect(lastLines('a\n', 5)).toBe('a\n');
    expect(lastLines('a\nb\n', undefined)).toBe('a\nb\n');
  });
});

describe('followLog', () => {
  it('delivers what is appended after the offset until aborted', async () => {
    const path = join(dir, 'ins-1.log');
    writeFileSync(path, 'old\n');
    const { offset } = await readFrom(path, 0);
    const seen: string[] = [];
    const controller = new AbortController();
    const following = followLog(path, offset, (t) => seen.push(t), controller.signal);
    appendFileSync(path, 'new line\n');
    await new Promise((r) => setTimeout(r, 500));
    controller.abort();
    await following;
    expect(seen.join('')).toBe('new line\n');
  });
});
