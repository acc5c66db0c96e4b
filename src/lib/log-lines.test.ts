import { describe, expect, it } from 'vitest';
import { LogLines } from './log-lines.js';

describe('LogLines', () => {
  it('keeps the lines it cannot write and writes them, in order, once writes work again', () => {
    let failing = true;
    const out: string[] = [];
    const lines = new LogLines(
      (t) => {
        if (failing) throw Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
        out.push(t);
      },
      () => new Date(0),
    );
    lines.line({ msg: 'disk full' });
    for (let i = 0; i < 150; i++) lines.line({ msg: `noise ${i}` });
    expect(out).toEqual([]);
    failing = false;
    lines.line({ msg: 'disk has space again' });
    expect(JSON.parse(out[0]!)).toEqual({ time: '1970-01-01T00:00:00.000Z', msg: 'disk full' });
    expect(out).toHaveLength(100 + 2);
    expect(JSON.parse(out[100]!)).toMatchObject({ dropped: 51 });
    expect(JSON.parse(out[101]!)).toMatchObject({ msg: 'disk has space again' });
  });
});
