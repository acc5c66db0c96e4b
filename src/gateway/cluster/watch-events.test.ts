import { describe, expect, it } from 'vitest';
import { backoffMs, LineBuffer, MAX_BACKOFF_MS, stepOf } from './watch-events.js';

const event = (type: string, object: Record<string, unknown>) => JSON.stringify({ type, object });
const cm = (name: string, rv: string) => ({ metadata: { name, resourceVersion: rv }, data: {} });

describe('following the watch of the gateway ConfigMap', () => {
  it('applies added and modified versions of the watched ConfigMap only', () => {
    expect(stepOf(event('MODIFIED', cm('cairn-gateway', '42')), 'cairn-gateway')).toMatchObject({
      kind: 'object',
      resourceVersion: '42',
    });
    expect(stepOf(event('ADDED', cm('other', '43')), 'cairn-gateway')).toBeUndefined();
  });

  it('relists on 410 Gone and reconnects on other errors', () => {
    expect(stepOf(event('ERROR', { kind: 'Status', code: 410, message: 'too old' }), 'x')).toEqual({
      kind: 'relist',
    });
    expect(stepOf(event('ERROR', { code: 500, message: 'boom' }), 'x')).toMatchObject({ kind: 'error' });
    expect(stepOf('not json', 'x')).toMatchObject({ kind: 'error' });
  });

  it('keeps the resourceVersion of bookmarks and deletions', () => {
    expect(stepOf(event('BOOKMARK', { metadata: { resourceVersion: '50' } }), 'x')).toEqual({
      kind: 'bookmark',
      resourceVersion: '50',
    });
    expect(stepOf(event('DELETED', cm('x', '51')), 'x')).toEqual({ kind: 'deleted', resourceVersion: '51' });
  });

  it('backs off doubling, capped, with jitter below the base', () => {
    expect(backoffMs(0, () => 0)).toBe(250);
    expect(backoffMs(2, () => 0)).toBe(1000);
    expect(backoffMs(30, () => 0)).toBe(MAX_BACKOFF_MS);
    expect(backoffMs(2, () => 1)).toBe(800);
  });

  it('splits a stream into lines across chunks and refuses an endless line', () => {
    const lines = new LineBuffer(100);
    expect(lines.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(lines.push(':2}\n\n')).toEqual(['{"b":2}']);
    expect(() => lines.push('x'.repeat(200))).toThrow(/longer than 100 bytes/);
  });
});
