import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compareDebian, compareSemver } from './versions.js';

const sign = (n: number) => (n < 0 ? '<' : n > 0 ? '>' : '=');

describe('compareDebian', () => {
  const pairs: Array<[string, '<' | '=' | '>', string]> = [
    ['1.0~rc1', '<', '1.0'],
    ['1.0~~', '<', '1.0~'],
    ['1.0~', '<', '1.0'],
    ['1.0', '<', '1.0+b1'],
    ['1.0', '<', '1.0a'],
    ['1.0a', '<', '1.0+'],
    ['1:1.0', '>', '9.9'],
    ['0:1.0', '=', '1.0'],
    ['1.0-1', '<', '1.0-1.1'],
    ['2.36-9+deb12u3', '<', '2.36-9+deb12u14'],
    ['2.36-9+deb12u14', '<', '2.36-10'],
    ['1.2.13.dfsg-1', '<', '1.2.13.dfsg-1+b1'],
    ['3.0.11-1~deb12u2', '<', '3.0.11-1'],
    ['1.01', '=', '1.1'],
    ['1.0-0', '=', '1.0'],
    ['10', '>', '9'],
    ['1.0.0', '>', '1.0'],
    ['1:1.2.13.dfsg-1', '>', '1.2.13.dfsg-3'],
  ];
  it.each(pairs)('%s %s %s', (a, op, b) => {
    expect(sign(compareDebian(a, b))).toBe(op);
    expect(sign(compareDebian(b, a))).toBe(op === '<' ? '>' : op === '>' ? '<' : '=');
  });

  it('agrees with dpkg --compare-versions where dpkg is installed', () => {
    let dpkg = true;
    try {
      execFileSync('dpkg', ['--version'], { stdio: 'ignore' });
    } catch {
      dpkg = false;
    }
    if (!dpkg) return;
    for (const [a, op, b] of pairs) {
      const rel = op === '<' ? 'lt' : op === '>' ? 'gt' : 'eq';
      expect(() => execFileSync('dpkg', ['--compare-versions', a, rel, b])).not.toThrow();
    }
  });
});

describe('compareSemver', () => {
  const pairs: Array<[string, '<' | '=' | '>', string]> = [
    ['1.0.0-alpha', '<', '1.0.0-alpha.1'],
    ['1.0.0-alpha.1', '<', '1.0.0-alpha.beta'],
    ['1.0.0-alpha.beta', '<', '1.0.0-beta'],
    ['1.0.0-beta.2', '<', '1.0.0-beta.11'],
    ['1.0.0-beta.11', '<', '1.0.0-rc.1'],
    ['1.0.0-rc.1', '<', '1.0.0'],
    ['1.0.0+build.5', '=', '1.0.0'],
    ['v1.2.3', '=', '1.2.3'],
    ['1.2.10', '>', '1.2.9'],
    ['1.10.0', '>', '1.9.99'],
    ['0.2.4', '<', '1.2.5'],
    ['1.2.5', '<', '1.2.6'],
    ['4.17.20', '<', '4.17.21'],
    ['2.0.0-0', '>', '1.99.99'],
  ];
  it.each(pairs)('%s %s %s', (a, op, b) => {
    expect(sign(compareSemver(a, b))).toBe(op);
    expect(sign(compareSemver(b, a))).toBe(op === '<' ? '>' : op === '>' ? '<' : '=');
  });
});
