import { describe, expect, it } from 'vitest';
import { chooseDriver, type DriverAvailability } from './detect.js';

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
