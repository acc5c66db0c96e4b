import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../lib/index.js';
import { bundleDirMode, bundleMode, classifyEntry, isInside, normalizeEntryPath } from './layer-entry.js';

describe('normalizeEntryPath', () => {
  it('strips leading ./ and / and duplicate slashes', () => {
    expect(normalizeEntryPath('./usr//bin/node')).toBe('usr/bin/node');
    expect(normalizeEntryPath('/etc/passwd')).toBe('etc/passwd');
    expect(normalizeEntryPath('./')).toBe('');
  });

  it('refuses names that climb out of the root', () => {
    expect(() => normalizeEntryPath('../etc/shadow')).toThrow(IntegrityError);
    expect(() => normalizeEntryPath('app/../../x')).toThrow(/leaves the root filesystem/);
  });
});

describe('classifyEntry', () => {
  it('sees plain entries', () => {
    expect(classifyEntry('app/server.js')).toEqual({ kind: 'entry', path: 'app/server.js' });
  });

  it('turns .wh.NAME into a deletion of NAME in the same folder', () => {
    expect(classifyEntry('etc/.wh.motd')).toEqual({ kind: 'whiteout', path: 'etc/motd' });
    expect(classifyEntry('.wh.opt')).toEqual({ kind: 'whiteout', path: 'opt' });
  });

  it('turns .wh..wh..opq into an opaque folder', () => {
    expect(classifyEntry('./var/cache/.wh..wh..opq')).toEqual({ kind: 'opaque', dir: 'var/cache' });
  });

  it('refuses a whiteout of nothing or of the parent', () => {
    expect(() => classifyEntry('etc/.wh.')).toThrow(IntegrityError);
    expect(() => classifyEntry('etc/.wh...')).toThrow(IntegrityError);
  });
});

describe('isInside', () => {
  it('is strict and component-wise', () => {
    expect(isInside('var/cache/x', 'var/cache')).toBe(true);
    expect(isInside('var/cache', 'var/cache')).toBe(false);
    expect(isInside('var/cachex', 'var/cache')).toBe(false);
    expect(isInside('anything', '')).toBe(true);
  });
});

describe('bundleMode', () => {
  it('drops write, setuid, setgid and sticky bits', () => {
    expect(bundleMode(0o4755)).toBe(0o555);
    expect(bundleMode(0o644)).toBe(0o444);
    expect(bundleMode(0o1777)).toBe(0o555);
    expect(bundleMode(0o600)).toBe(0o400);
  });
});

describe('bundleDirMode', () => {
  it('drops owner write and setuid/setgid, keeps sticky world-writable folders for tmpfs', () => {
    expect(bundleDirMode(0o755)).toBe(0o555);
    expect(bundleDirMode(0o1777)).toBe(0o1577);
    expect(bundleDirMode(0o2775)).toBe(0o575);
  });
});
