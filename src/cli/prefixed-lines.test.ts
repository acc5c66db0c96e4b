import { describe, expect, it } from 'vitest';
import { prefixedLines } from './prefixed-lines.js';

describe('prefixedLines', () => {
  it('prefixes whole lines only, keeping a partial line until its end', () => {
    const out: string[] = [];
    const a = prefixedLines('ins-a', (s) => out.push(s));
    const b = prefixedLines('ins-b', (s) => out.push(s));
    a('one\ntw');
    b('x\n');
    a('o\nthree');
    a.flush();
    expect(out.join('')).toBe('ins-a | one\nins-b | x\nins-a | two\nins-a | three\n');
  });
});
