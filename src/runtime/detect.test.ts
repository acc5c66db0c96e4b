import { describe, expect, it } from 'vitest';
import { chooseDriver, type DriverAvailability, packagesToInstall } from './detect.js';

const row = (kind: DriverAvailability['kind'], usable: boolean): DriverAvailability => ({
  kind,
  usable,
  detail: '',
});

describe('chooseDriver', () => {
  it('prefers runc, then bwrap, then the process driver', () => {
    expect(chooseDriver([row('runc', true), row('bwrap', true), row('process', true)])).toBe('runc');
    expect(chooseDriver([row('runc', false), row('bwrap', true), row('process', true)])).toBe('bwrap');
    expect(chooseDriver([row('runc', false), row('bwrap', false), row('process', true)])).toBe('process');
  });
});

describe('packagesToInstall', () => {
  it('names the packages of drivers that are not installed, not of those merely unusable', () => {
    const available: DriverAvailability[] = [
      {
        kind: 'runc',
        usable: false,
        detail: 'runc version 1.1.5, but cairn is not running as root',
        package: 'runc',
      },
      { kind: 'bwrap', usable: false, detail: 'bubblewrap is not installed', package: 'bubblewrap' },
      { kind: 'process', usable: true, detail: 'always available; isolates nothing' },
    ];
    expect(packagesToInstall(available)).toEqual(['bubblewrap']);
  });
});
