import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IntegrityError, NotFoundError } from '../lib/index.js';
import {
  chainResolvers,
  createEnvResolver,
  createFileResolver,
  injectionFor,
  LocalSecretStore,
  openSecret,
  openSecretResolver,
  pinSecrets,
  sealSecret,
} from './index.js';

const key = randomBytes(32);
const keyed = (v: Uint8Array) => `hmac-sha256:${createHmac('sha256', key).update(v).digest('hex')}`;
const now = new Date('2026-12-06T10:00:00Z');

function workspace() {
  const root = mkdtempSync(join(tmpdir(), 'cairn-secrets-'));
  return { root, keys: join(root, 'keys') };
}

function store(ws = workspace()) {
  return LocalSecretStore.open({
    dbFile: join(ws.root, 'secrets.db'),
    keyFile: join(ws.keys, 'secrets.key'),
    create: true,
  });
}

describe('secret box', () => {
  it('opens what it sealed, and nothing that was changed, moved or sealed under another key', () => {
    const box = sealSecret(key, 'DB', 1, Buffer.from('hunter2'));
    expect(openSecret(key, 'DB', 1, box).toString()).toBe('hunter2');
    expect(box.sealed.includes(Buffer.from('hunter2'))).toBe(false);
    const flipped = { ...box, sealed: Buffer.from(box.sealed) };
    flipped.sealed[0]! ^= 1;
    expect(() => openSecret(key, 'DB', 1, flipped)).toThrow(IntegrityError);
    expect(() => openSecret(key, 'OTHER', 1, box)).toThrow(/decrypting secret OTHER v1/);
    expect(() => openSecret(key, 'DB', 2, box)).toThrow(IntegrityError);
    expect(() => openSecret(randomBytes(32), 'DB', 1, box)).toThrow(IntegrityError);
  });

  it('uses a fresh nonce for every seal', () => {
    const a = sealSecret(key, 'DB', 1, Buffer.from('x'));
    const b = sealSecret(key, 'DB', 1, Buffer.from('x'));
    expect(a.nonce.equals(b.nonce)).toBe(false);
  });
});

describe('local store', () => {
  it('keeps every version, encrypted, in files only its owner can read', () => {
    const ws = workspace();
    const s = store(ws);
    s.set('DB_PASSWORD', Buffer.from('first-value'), 'alice', now);
    s.rotate('DB_PASSWORD', Buffer.from('second-value'), 'alice', now);
    expect(s.current('DB_PASSWORD')?.version).toBe('v2');
    expect(s.current('DB_PASSWORD')?.value.toString()).toBe('second-value');
    expect(s.read('DB_PASSWORD', 'v1')?.value.toString()).toBe('first-value');
    expect(s.read('DB_PASSWORD', 'v9')).toBeUndefined();
    expect(s.list()).toEqual([
      expect.objectContaining({
        name: 'DB_PASSWORD',
        version: 'v2',
        versions: 2,
        keyId: expect.stringMatching(/^sk-/),
      }),
    ]);
    s.close();
    for (const f of ['secrets.db', 'keys/secrets.key'])
      expect(statSync(join(ws.root, f)).mode & 0o777).toBe(0o600);
    const raw = readFileSync(join(ws.root, 'secrets.db'));
    expect(raw.includes(Buffer.from('first-value'))).toBe(false);
  });

  it('refuses to set an existing secret, to rotate or remove a missing one', () => {
    const s = store();
    s.set('A', Buffer.from('1'), 'alice', now);
    expect(() => s.set('A', Buffer.from('2'), 'alice', now)).toThrow(/it exists \(v1\)/);
    expect(() => s.rotate('B', Buffer.from('2'), 'alice', now)).toThrow(NotFoundError);
    expect(() => s.remove('B')).toThrow(/removing secret B: there is no such secret/);
    expect(s.remove('A')).toBe(1);
    expect(s.current('A')).toBeUndefined();
  });

  it('names both key ids when the store key is not the one a secret was sealed with', () => {
    const ws = workspace();
    const s = store(ws);
    s.set('A', Buffer.from('1'), 'alice', now);
    s.close();
    writeFileSync(join(ws.keys, 'secrets.key'), `${randomBytes(32).toString('hex')}\n`);
    const reopened = store(ws);
    expect(() => reopened.current('A')).toThrow(
      /sealed under store key sk-[0-9a-f]{16}, and keys\/secrets.key is sk-/,
    );
  });

  it('refuses a missing or malformed key instead of making a new one', () => {
    const ws = workspace();
    const s = store(ws);
    s.set('A', Buffer.from('1'), 'alice', now);
    s.close();
    writeFileSync(join(ws.keys, 'secrets.key'), 'short\n');
    expect(() => openSecretResolver(ws, {}).current('A')).toThrow(/is not 32 bytes of hex/);
    rmSync(join(ws.keys, 'secrets.key'));
    expect(() => store(ws)).toThrow(/keys\/secrets.key does not exist/);
    expect(existsSync(join(ws.keys, 'secrets.key'))).toBe(false);
  });
});

describe('pins and injection', () => {
  it('pins the current version and names every missing secret', () => {
    const s = store();
    s.set('A', Buffer.from('a-value'), 'alice', now);
    const pins = pinSecrets('api', ['A', { name: 'A', env: 'A_VAR' }], s, keyed);
    expect(pins).toEqual([
      { name: 'A', file: 'A', version: 'v1', digest: keyed(Buffer.from('a-value')) },
      { name: 'A', env: 'A_VAR', version: 'v1', digest: keyed(Buffer.from('a-value')) },
    ]);
    expect(() => pinSecrets('api', ['A', 'B', 'C'], s, keyed)).toThrow(
      'deploying api: secrets B, C have no value',
    );
  });

  it('injects the pinned version after a rotation, and refuses a value that changed outside cairn', () => {
    const s = store();
    s.set('A', Buffer.from('old'), 'alice', now);
    const pins = pinSecrets('api', [{ name: 'A', env: 'A_VAR', file: 'a.txt' }], s, keyed);
    s.rotate('A', Buffer.from('new'), 'alice', now);
    const injection = injectionFor('rel-1', pins, s, keyed);
    expect(injection.env).toEqual({ A_VAR: 'old' });
    expect(injection.files['a.txt']?.toString()).toBe('old');
    const env = { CAIRN_SECRET_A: 'before' };
    const envPins = pinSecrets('api', ['A'], createEnvResolver(env), keyed);
    env.CAIRN_SECRET_A = 'after';
    expect(() => injectionFor('rel-2', envPins, createEnvResolver(env), keyed)).toThrow(
      'starting rel-2: secret A is not the value the release pinned',
    );
  });

  it('asks resolvers in order: the store first, then the environment, then a folder', () => {
    const s = store();
    s.set('A', Buffer.from('from-store'), 'alice', now);
    const dir = mkdtempSync(join(tmpdir(), 'cairn-secret-files-'));
    writeFileSync(join(dir, 'C'), 'from-file');
    const chain = chainResolvers([
      s,
      createEnvResolver({ CAIRN_SECRET_A: 'x', CAIRN_SECRET_B: 'from-env' }),
      createFileResolver(dir),
    ]);
    expect(chain.current('A')?.value.toString()).toBe('from-store');
    expect(chain.current('B')?.version).toBe('env');
    expect(chain.read('C', 'file')?.value.toString()).toBe('from-file');
    expect(chain.current('D')).toBeUndefined();
    expect(() => openSecretResolver(workspace(), { CAIRN_SECRETS: 'local,vault' })).toThrow(
      /"vault" is not a secret resolver/,
    );
  });
});
