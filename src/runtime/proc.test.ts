import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { descendants, isAlive, parseStat, readStat, waitFor } from './proc.js';

describe('parseStat', () => {
  it('reads state, ppid and start time even when the name has spaces and parentheses', () => {
    const fields = ['S', '42', ...Array.from({ length: 17 }, () => '0'), '123456', '0'];
    expect(parseStat(`7 (a (b) c) ${fields.join(' ')}`)).toEqual({
      state: 'S',
      ppid: 42,
      startTicks: 123456,
    });
  });
});

describe('isAlive and descendants', () => {
  it('sees a child and its grandchild, and stops seeing them after they exit', async () => {
    const child = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore' });
    const pid = child.pid!;
    const ticks = readStat(pid)!.startTicks;
    expect(await waitFor(() => descendants(pid).length === 1, 2000)).toBe(true);
    expect(isAlive(pid, ticks)).toBe(true);
    expect(isAlive(pid, ticks + 1)).toBe(false);
    const [grandchild] = descendants(pid);
    process.kill(grandchild!, 'SIGKILL');
    expect(await waitFor(() => !isAlive(pid, ticks), 2000)).toBe(true);
  });
});
