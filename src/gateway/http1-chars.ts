/**
 * Character classes of HTTP/1.1 heads (RFC 9110 §5.6.2 tokens, §5.5 field values) checked with a
 * lookup table over char codes: every request and every backend answer passes here, and a loop
 * over a table costs a fraction of the regular expressions it replaces (same sets of characters).
 */

/** `tchar`: `!#$%&'*+-.^_`|~`, digits and letters. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TCHAR[c.charCodeAt(0)] = 1;

const TAB = 9;
const SPACE = 32;

/** Whether `s[from, to)` is a non-empty token. */
export function isToken(s: string, from = 0, to = s.length): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/**
 * Whether `s[from, to)` holds only what a field value may: visible characters, spaces, tabs and
 * obs-text (0x80-0xff), so no control character (CR, LF, NUL, DEL).
 */
export function isFieldValue(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < SPACE ? c !== TAB : c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** Whether `s[from, to)` is visible ASCII (0x21-0x7e), as a request target must be. */
export function isVisibleAscii(s: string, from = 0, to = s.length): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** Optional whitespace (RFC 9110 §5.6.3) is spaces and tabs only, never \v or \xa0. */
export function isOws(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** Whether `c` is an ASCII digit. */
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
