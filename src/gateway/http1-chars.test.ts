import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRequestHead, parseResponseHead } from './http1.js';
import { isFieldValue, isToken, isVisibleAscii } from './http1-chars.js';

// The regular expressions the lookup tables replaced: the sets of characters must stay the same.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const TARGET = /^[\x21-\x7e]+$/;

/** Latin1 strings biased towards the characters on either side of each boundary. */
const latin1 = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('\t', ' ', '\x7f', '\x80', '\x00', '\r', '\n', ':', '"', '@', 'a', 'Z', '0', '~', '\xff'),
  ),
  maxLength: 12,
});

describe('HTTP/1 character classes', () => {
  it('agree with the regular expressions they replace, character by character', () => {
    for (let c = 0; c < 0x200; c++) {
      const s = String.fromCharCode(c);
      expect([c, isToken(s)]).toEqual([c, TOKEN.test(s)]);
      expect([c, isFieldValue(s, 0, 1)]).toEqual([c, FIELD_VALUE.test(s)]);
      expect([c, isVisibleAscii(s)]).toEqual([c, TARGET.test(s)]);
    }
    expect(isToken('')).toBe(false);
    expect(isVisibleAscii('')).toBe(false);
  });

  it('agree on whole strings', () => {
    fc.assert(
      fc.property(latin1, (s) => {
        expect(isToken(s)).toBe(TOKEN.test(s));
        expect(isFieldValue(s, 0, s.length)).toBe(FIELD_VALUE.test(s));
        expect(isVisibleAscii(s)).toBe(TARGET.test(s));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('request and status lines read without regular expressions', () => {
  it('reads a request line exactly as METHOD SP target SP HTTP/d.d', () => {
    const line = /^([^ ]+) ([^ ]+) HTTP\/(\d)\.(\d)$/;
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'G@T', '', 'GET ', 'GET\t'),
        fc.constantFrom('/', '/a b', '', ' /', '/x'),
        fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 ', 'HTTP/1.x', 'HTTP/11', 'http/1.1'),
        (method, target, version) => {
          const text = `${method} ${target} ${version}\r\nHost: a`;
          const m = line.exec(text.split('\r\n')[0]!);
          const head = parseRequestHead(text);
          if (!m || !TOKEN.test(m[1]!)) expect(head).toMatchObject({ status: 400 });
          else if (m[3] !== '1' || Number(m[4]) > 1) expect(head).toMatchObject({ status: 505 });
          else expect(head).toMatchObject({ method: m[1], target: m[2], minor: Number(m[4]) });
        },
      ),
    );
  });

  it('reads a status line exactly as HTTP/1.d SP ddd [SP reason]', () => {
    const line = /^HTTP\/1\.(\d) (\d{3})(?: (.*))?$/;
    fc.assert(
      fc.property(
        fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.x', 'HTTP/1.1 '),
        fc.constantFrom('200', '20', '2000', '2x0', ''),
        fc.constantFrom('', ' ', ' OK', ' Not Found', 'OK', ' a\rb', ' a\nb'),
        (version, status, reason) => {
          const first = `${version} ${status}${reason}`;
          const m = line.exec(first);
          const res = parseResponseHead(`${first}\r\nContent-Length: 0`);
          if (!m) expect(typeof res).toBe('string');
          else expect(res).toMatchObject({ minor: Number(m[1]), status: Number(m[2]), reason: m[3] ?? '' });
        },
      ),
    );
  });
});
