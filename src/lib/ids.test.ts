import { describe, expect, it } from 'vitest';
import { newInstanceId, releaseId } from './ids.js';

const IMAGE = `sha256:${'a'.repeat(64)}`;
const CONFIG = `sha256:${'b'.repeat(64)}`;

describe('releaseId', () => {
  it('is the same for the same service, image and settings, and has the documented form', () => {
    expect(releaseId('hello', IMAGE, CONFIG)).toBe(releaseId('hello', IMAGE, CONFIG));
    expect(releaseId('hello', IMAGE, CONFIG)).toMatch(/^rel-[0-9a-f]{12}$/);
  });

  it('differs for two services that run the same image with the same settings', () => {
    expect(releaseId('worker-a', IMAGE, CONFIG)).not.toBe(releaseId('worker-b', IMAGE, CONFIG));
  });

  it('differs when the image or the settings differ', () => {
    const ids = new Set([
      releaseId('hello', IMAGE, CONFIG),
      releaseId('hello', CONFIG, IMAGE),
      releaseId('hello', IMAGE, `sha256:${'c'.repeat(64)}`),
    ]);
    expect(ids.size).toBe(3);
  });
});

describe('newInstanceId', () => {
  it('is unique and sorts by creation time', () => {
    const ids = Array.from({ length: 100 }, () => newInstanceId());
    expect(new Set(ids).size).toBe(100);
    expect(ids.every((id) => /^ins-[0-9a-z]{26}$/.test(id))).toBe(true);
  });
});
