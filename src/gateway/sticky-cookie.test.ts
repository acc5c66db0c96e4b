import { describe, expect, it } from 'vitest';
import { readCookie, stickyCookieHeader, stickyKeyFrom } from './sticky-cookie.js';

describe('sticky cookie', () => {
  it('reads the cairn-release cookie among others', () => {
    expect(stickyKeyFrom('a=1; cairn-release=abc-123;b=2')).toBe('abc-123');
    expect(stickyKeyFrom(undefined)).toBeUndefined();
    expect(readCookie('x=1;;  y = 2 ', 'y')).toBe('2');
  });

  it('ignores values the gateway would never have set', () => {
    expect(stickyKeyFrom('cairn-release=a b')).toBeUndefined();
    expect(stickyKeyFrom(`cairn-release=${'x'.repeat(65)}`)).toBeUndefined();
  });

  it('sets an HttpOnly, SameSite cookie for the whole site', () => {
    expect(stickyCookieHeader('k1', false)).toBe(
      'cairn-release=k1; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax',
    );
    expect(stickyCookieHeader('k1', true)).toMatch(/; Secure$/);
  });
});
