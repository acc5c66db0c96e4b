import { describe, expect, it } from 'vitest';
import { runtimeConfigFields } from './runtime-config-hash.js';
import { compareSecrets, keyedDigest, secretDigests } from './secret-hash.js';

describe('keyedDigest', () => {
  it('is HMAC-SHA256 (RFC 4231 test case 2)', () => {
    expect(keyedDigest(Buffer.from('Jefe'), 'what do ya want for nothing?')).toBe(
      'hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('depends on the key: another workspace cannot match a recorded hash to a value', () => {
    const a = keyedDigest(Buffer.alloc(32, 1), 'hunter2');
    expect(a).not.toBe(keyedDigest(Buffer.alloc(32, 2), 'hunter2'));
    expect(a).toBe(keyedDigest(Buffer.alloc(32, 1), Buffer.from('hunter2')));
  });
});

describe('secrets and env values in an identity', () => {
  const key = Buffer.alloc(32, 9);

  it('hold names and keyed hashes only', () => {
    const digests = secretDigests(key, { API_TOKEN: 'tok-123456', DB: 'pw-abcdef' });
    expect(Object.keys(digests)).toEqual(['API_TOKEN', 'DB']);
    expect(JSON.stringify(digests)).not.toMatch(/tok-123456|pw-abcdef/);
    const fields = runtimeConfigFields({ process: { env: ['DB=pw-abcdef', 'EMPTY=', 'BARE'] } }, (v) =>
      keyedDigest(key, v),
    );
    expect(Object.keys(fields)).toEqual(['process.env.DB', 'process.env.EMPTY', 'process.env.BARE']);
    expect(JSON.stringify(fields)).not.toContain('pw-abcdef');
  });

  it('a name given twice keeps both values: adding a second definition is a change', () => {
    const keyed = (v: string) => keyedDigest(key, v);
    const once = runtimeConfigFields({ process: { env: ['A=1'] } }, keyed);
    const twice = runtimeConfigFields({ process: { env: ['A=1', 'A=2'] } }, keyed);
    expect(once['process.env.A']).not.toBe(twice['process.env.A']);
  });

  it('compareSecrets names each difference, sorted, with keyed hashes as before/after', () => {
    const before = secretDigests(key, { B: 'one', A: 'two' });
    const after = secretDigests(key, { B: 'three', C: 'four' });
    expect(compareSecrets(before, after)).toEqual([
      { kind: 'secret', name: 'A', path: 'secret A', change: 'removed', expected: before.A },
      {
        kind: 'secret',
        name: 'B',
        path: 'secret B',
        change: 'changed',
        expected: before.B,
        observed: after.B,
      },
      { kind: 'secret', name: 'C', path: 'secret C', change: 'added', observed: after.C },
    ]);
    expect(compareSecrets(before, { ...before })).toEqual([]);
  });
});
