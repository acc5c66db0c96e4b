import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { AccessLog } from './access-log.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-access-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A disk watch that records what it is told. */
function fakeDisk() {
  const reported: string[] = [];
  return {
    isFull: false,
    reported,
    report(error: unknown, action: string) {
      reported.push(`${action}: ${(error as NodeJS.ErrnoException).code}`);
      this.isFull = true;
      return true;
    },
  };
}

describe('AccessLog', () => {
  it('on ENOSPC (/dev/full) stops instead of throwing, tells the disk watch once, and counts what it drops', async () => {
    const disk = fakeDisk();
    const log = new AccessLog('/dev/full', disk, () => {});
    for (let i = 0; i < 5; i++) log.write(`line ${i}`);
    for (const end = Date.now() + 5000; disk.reported.length === 0 && Date.now() < end; ) await sleep(10);
    for (let i = 0; i < 5; i++) log.write(`late ${i}`);
    expect(disk.reported).toEqual(['writing /dev/full: ENOSPC']);
    expect(log.droppedLines).toBe(5);
    await log.close();
  });

  it('drops while the disk is full and writes again after resume, saying how many it dropped', async () => {
    const disk = fakeDisk();
    const file = join(dir, 'access.log');
    const log = new AccessLog(file, disk, () => {});
    log.write('before');
    disk.isFull = true;
    log.write('dropped 1');
    log.write('dropped 2');
    disk.isFull = false;
    expect(log.resume()).toEqual({ accessLogDropped: 2 });
    log.write('after');
    await log.close();
    expect(readFileSync(file, 'utf8')).toBe('before\nafter\n');
  });

  it('rotates at its size to <file>.1, replacing the one before, and a second writer follows the rotation', async () => {
    const file = join(dir, 'rotated.log');
    const line = 'x'.repeat(99);
    const a = new AccessLog(file, fakeDisk(), () => {}, 1000);
    const b = new AccessLog(file, fakeDisk(), () => {}, 1000);
    const flush = () => sleep(50);
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 10; i++) a.write(`${round}${line.slice(1)}`);
      await flush();
      await a.maintain();
      await b.maintain();
      b.write(`b${round}`);
      await flush();
      // The rotated file holds what was written before the rotation (b's line of the round before
      // and this round's lines of a); b followed the rotation: its line is in the new file.
      const rotated = readFileSync(`${file}.1`, 'utf8').split('\n').filter(Boolean);
      expect(rotated).toHaveLength(round === 1 ? 10 : 11);
      if (round > 1) expect(rotated[0]).toBe(`b${round - 1}`);
      expect(readFileSync(file, 'utf8')).toBe(`b${round}\n`);
    }
    expect(statSync(`${file}.1`).size).toBeLessThan(2000);
    await a.maintain(); // below the size: nothing moves
    expect(readFileSync(file, 'utf8')).toBe('b3\n');
    await Promise.all([a.close(), b.close()]);
    expect(existsSync(`${file}.2`)).toBe(false);
  });
});
