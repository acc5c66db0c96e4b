import { describe, expect, it } from 'vitest';
import { closest, editDistance } from './similar.js';

describe('editDistance', () => {
  it('counts edits, with an adjacent swap as one', () => {
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('canery', 'canary')).toBe(1);
    expect(editDistance('dve', 'dev')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});

describe('closest', () => {
  it('suggests a likely typo and nothing for an unrelated word', () => {
    expect(closest('inclde', ['include', 'exclude', 'context'])).toBe('include');
    expect(closest('zzz', ['include', 'exclude'])).toBeUndefined();
  });
});
