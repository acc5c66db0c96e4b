import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSpec } from './parse.js';

const EXAMPLE = readFileSync(new URL('../../examples/hello/cairn.yaml', import.meta.url), 'utf8');
const NOISE = [
  ':',
  '-',
  '{',
  '}',
  '[',
  ']',
  '"',
  "'",
  '#',
  '&a',
  '*a',
  '!!str',
  '\t',
  ' ',
  '\n',
  '  ',
  '0',
  '-1',
  'x',
  '~',
  '|',
  '>',
  '?',
  ',',
  '%',
  '@',
];

/** A mutation of the text: insert, delete, replace a span, duplicate or swap lines, re-indent. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('insert'), at: fc.nat(), text: fc.constantFrom(...NOISE) }),
  fc.record({ kind: fc.constant('delete'), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('replace'), at: fc.nat(), text: fc.string({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant('dupLine'), at: fc.nat() }),
  fc.record({ kind: fc.constant('swapLines'), at: fc.nat() }),
  fc.record({ kind: fc.constant('indent'), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
);

type Mutation = { kind: string; at: number; text?: string; length?: number; by?: number };

function apply(text: string, m: Mutation): string {
  const at = m.at % (text.length + 1);
  const lines = text.split('\n');
  const li = m.at % lines.length;
  switch (m.kind) {
    case 'insert':
      return text.slice(0, at) + m.text + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + (m.length ?? 1));
    case 'replace':
      return text.slice(0, at) + m.text + text.slice(at + (m.text?.length ?? 0));
    case 'dupLine':
      lines.splice(li, 0, lines[li]!);
      return lines.join('\n');
    case 'swapLines':
      [lines[li], lines[(li + 1) % lines.length]] = [lines[(li + 1) % lines.length]!, lines[li]!];
      return lines.join('\n');
    default: {
      const by = m.by ?? 0;
      lines[li] = by >= 0 ? ' '.repeat(by) + lines[li] : lines[li]!.replace(new RegExp(`^ {0,${-by}}`), '');
      return lines.join('\n');
    }
  }
}

describe('parseSpec under random mutations', () => {
  it('never throws, and every diagnostic points inside the file', () => {
    expect(parseSpec(EXAMPLE, 'cairn.yaml', (rel) => (rel === './app' ? 'dir' : 'file')).spec).toBeDefined();
    let invalid = 0;
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const text = mutations.reduce(apply, EXAMPLE);
        const lineCount = text.split('\n').length;
        const result = parseSpec(text, 'cairn.yaml', (rel) => (rel === './app' ? 'dir' : 'file'));
        if (!result.spec) invalid += 1;
        expect(result.spec === undefined).toBe(result.diagnostics.some((d) => d.severity === 'error'));
        for (const d of result.diagnostics) {
          expect(d.file).toBe('cairn.yaml');
          expect(d.line).toBeGreaterThanOrEqual(1);
          expect(d.line).toBeLessThanOrEqual(lineCount);
          expect(d.column).toBeGreaterThanOrEqual(1);
          expect(d.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 600, seed: 20261126 },
    );
    // The mutations must actually exercise the error paths, or this test proves nothing.
    expect(invalid).toBeGreaterThan(200);
  });
});
