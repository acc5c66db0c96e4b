import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, ValidationError } from '../lib/index.js';
import { buildEntry, claimedIndex, entryBytes, looksSecret, REDACTED, redactSecrets } from './entry.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const defaults = { actor: 'alice', time: '2026-01-02T03:04:05.000Z' };

describe('buildEntry', () => {
  it('produces canonical JSON with defaults, its index, and no undefined members', () => {
    const { entry, bytes } = buildEntry(
      {
        action: 'deploy.start',
        subject: { service: 'hello', env: 'prod' },
        digestAfter: DIGEST,
        reason: 'v2',
      },
      42,
      defaults,
    );
    expect(entry).toMatchObject({ index: 42, actor: 'alice', time: defaults.time, action: 'deploy.start' });
    expect(bytes).toBe(
      `{"action":"deploy.start","actor":"alice","digestAfter":"${DIGEST}","index":42,"reason":"v2","subject":{"env":"prod","service":"hello"},"time":"${defaults.time}"}`,
    );
    expect(claimedIndex(bytes)).toBe(42);
  });

  it('writes exactly the canonical JSON of the entry, whatever the event', () => {
    const text = fc.option(fc.string({ minLength: 1 }), { nil: undefined });
    const event = fc.record({
      action: fc.constantFrom('deploy.start', 'a', 'instance.stop-all', 'api.auth_failed'),
      subject: fc.record({ service: text, env: text, release: text, instance: text, image: text }),
      reason: text,
      specCommit: text,
      actor: text,
      detail: fc.option(fc.dictionary(fc.string(), fc.jsonValue()), { nil: undefined }),
    });
    fc.assert(
      fc.property(event, fc.nat(), (e, index) => {
        const { entry, bytes } = buildEntry(e as never, index, defaults);
        expect(bytes).toBe(canonicalJson(entry));
        expect(entryBytes(entry)).toBe(bytes);
        expect(claimedIndex(bytes)).toBe(index);
      }),
    );
  });

  it('redacts in the same walk that writes the bytes: equal to redacting first, then canonical JSON', () => {
    const key = fc.constantFrom('password', 'apiToken', 'keyId', 'HOME', 'index', 'list', 'b', 'a');
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        fc.constant(DIGEST),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(key, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 5 }), (detail) => {
        const { entry, bytes } = buildEntry({ action: 'a.b', subject: {}, detail }, 1, defaults);
        const expected = redactSecrets(detail);
        expect(bytes).toBe(canonicalJson(entry));
        expect(entry.detail === undefined ? undefined : canonicalJson(entry.detail)).toBe(
          Object.keys(detail).length ? canonicalJson(expected.detail) : undefined,
        );
        expect(entry.redacted ?? []).toEqual(expected.redacted.map((p) => `detail.${p}`));
      }),
    );
  });

  it('keeps the caller-given actor and time', () => {
    const { entry } = buildEntry(
      { action: 'api.auth-failed', actor: 'token:ci', time: '2020-01-01T00:00:00Z', subject: {} },
      0,
      defaults,
    );
    expect(entry).toMatchObject({ actor: 'token:ci', time: '2020-01-01T00:00:00Z' });
  });

  it('refuses malformed actions, digests and subjects with a clear message', () => {
    expect(() => buildEntry({ action: 'Deploy Start', subject: {} }, 0, defaults)).toThrow(
      /action "Deploy Start"/,
    );
    expect(() => buildEntry({ action: 'a.b', subject: {}, digestBefore: 'md5:x' }, 0, defaults)).toThrow(
      ValidationError,
    );
    expect(() => buildEntry({ action: 'a.b', subject: { pod: 'x' } as never }, 0, defaults)).toThrow(
      /unknown subject field "pod"/,
    );
  });

  it('finds the top-level index even when the detail holds an "index" key', () => {
    const { bytes } = buildEntry(
      { action: 'a.b', subject: {}, detail: { index: 99, nested: { index: 98 } } },
      7,
      defaults,
    );
    expect(claimedIndex(bytes)).toBe(7);
    expect(claimedIndex('{"no":1}')).toBeNaN();
  });
});

describe('secrets never land in an entry', () => {
  it('redacts secret-looking keys at any depth and lists what it redacted', () => {
    const { detail, redacted } = redactSecrets({
      password: 'hunter2',
      env: { DB_PASSWORD: 's3cr3t', apiToken: 'abc', HOME: '/root' },
      list: [{ secret: 'x' }],
      keyId: 'c74f20a3',
      configDigest: DIGEST,
      signingKey: DIGEST,
      pem: '-----BEGIN PRIVATE KEY-----\nMC4CAQ...',
    });
    expect(detail).toEqual({
      password: REDACTED,
      env: { DB_PASSWORD: REDACTED, apiToken: REDACTED, HOME: '/root' },
      list: [{ secret: REDACTED }],
      keyId: 'c74f20a3',
      configDigest: DIGEST,
      signingKey: DIGEST,
      pem: REDACTED,
    });
    expect(redacted).toEqual(['password', 'env.DB_PASSWORD', 'env.apiToken', 'list[0].secret', 'pem']);
  });

  it('records the redaction in the entry bytes, never the value', () => {
    const { bytes } = buildEntry(
      { action: 'secret.rotate', subject: {}, detail: { token: 'tok-123456' } },
      0,
      defaults,
    );
    expect(bytes).not.toContain('tok-123456');
    expect(JSON.parse(bytes)).toMatchObject({ detail: { token: REDACTED }, redacted: ['detail.token'] });
  });

  it('lets digests, booleans and names through', () => {
    expect(looksSecret('tokenDigest', DIGEST)).toBe(false);
    expect(looksSecret('secret', DIGEST)).toBe(false);
    expect(looksSecret('hasToken', true)).toBe(false);
    expect(looksSecret('tokenName', 'ci')).toBe(false);
    expect(looksSecret('secret', 'plain')).toBe(true);
  });
});
