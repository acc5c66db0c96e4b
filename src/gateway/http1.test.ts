import { describe, expect, it } from 'vitest';
import { ChunkedScanner } from './chunked.js';
import { headEnd, parseRequestHead, parseResponseHead, type RequestHead } from './http1.js';

const req = (text: string) => parseRequestHead(text) as RequestHead & { message?: string };

describe('parseRequestHead', () => {
  it('reads method, target, headers and framing of a plain request', () => {
    const head = req('GET /a?b=1 HTTP/1.1\r\nHost: app.test\r\nX-Id:  7 ');
    expect(head).toMatchObject({
      method: 'GET',
      target: '/a?b=1',
      minor: 1,
      host: 'app.test',
      headers: ['Host', 'app.test', 'X-Id', '7'],
      names: ['host', 'x-id'],
      contentLength: 0,
      chunked: false,
      keepAlive: true,
      upgrade: false,
    });
  });

  it('reduces an absolute-form target to its path and takes the host from it, not from Host', () => {
    expect(req('GET http://shop.test/cart HTTP/1.1\r\nHost: other')).toMatchObject({
      host: 'shop.test',
      target: '/cart',
    });
    expect(req('GET http://shop.test?q=1 HTTP/1.1\r\nHost: shop.test')).toMatchObject({ target: '/?q=1' });
    expect(req('GET HTTP://shop.test:8080 HTTP/1.0')).toMatchObject({ host: 'shop.test:8080', target: '/' });
  });

  it('leaves the host of an HTTP/1.0 request without Host undefined (the gateway supplies one)', () => {
    expect(req('GET / HTTP/1.0')).toMatchObject({ host: undefined, minor: 0 });
  });

  it('trims only spaces and tabs around a field value, never \\v or \\xa0', () => {
    expect(req('GET / HTTP/1.1\r\nHost: a\r\nX: \t \xa0b\xa0 \t').headers).toEqual([
      'Host',
      'a',
      'X',
      '\xa0b\xa0',
    ]);
    expect(parseRequestHead('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\v')).toMatchObject({
      status: 400,
    });
  });

  it('knows keep-alive, upgrade and expect from the headers', () => {
    expect(req('GET / HTTP/1.0\r\nHost: a').keepAlive).toBe(false);
    expect(req('GET / HTTP/1.0\r\nConnection: keep-alive').keepAlive).toBe(true);
    expect(req('GET / HTTP/1.1\r\nHost: a\r\nConnection: close').keepAlive).toBe(false);
    expect(req('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket').upgrade).toBe(true);
    expect(req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue')).toMatchObject({
      expectContinue: true,
      contentLength: 3,
    });
  });

  it.each([
    ['THIS IS NOT HTTP', 400],
    ['GET / HTTP/2.0\r\nHost: a', 505],
    ['GET / HTTP/1.1', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b', 400],
    ['GET / HTTP/1.1\r\nHost : a', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\n folded', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b', 400],
    ['GET nopath HTTP/1.1\r\nHost: a', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip', 400],
    ['GET /a\x00b HTTP/1.1\r\nHost: a', 400],
    ['GET /a\x01\x7fb HTTP/1.1\r\nHost: a', 400],
    ['GET /caf\xe9 HTTP/1.1\r\nHost: a', 400],
    ['GET /a\tb HTTP/1.1\r\nHost: a', 400],
    ['GET http:///x HTTP/1.1\r\nHost: a', 400],
    ['GET http://user@a/x HTTP/1.1\r\nHost: a', 400],
    ['GET http://a/x HTTP/1.1', 400],
    ['GET http://"a:80/ HTTP/1.1\r\nHost: a', 400],
    ['CONNECT a:443 HTTP/1.1\r\nHost: a', 501],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\t ', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,,chunked', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked', 400],
    ['G\x00T / HTTP/1.1\r\nHost: a', 400],
    ['GET / HTTP/1.2\r\nHost: a', 505],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: a', 400],
    ['POST / HTTP/1.0\r\nTransfer-Encoding: chunked', 400],
  ])('refuses %j with %i (smuggling and garbage)', (text, status) => {
    expect(parseRequestHead(text)).toMatchObject({ status });
  });

  it('refuses repeated content-length fields, even identical ones (as llhttp does)', () => {
    expect(
      parseRequestHead('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5'),
    ).toMatchObject({
      status: 400,
    });
  });
});

describe('parseResponseHead', () => {
  it('reads status, framing and keep-alive', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 12')).toMatchObject({
      status: 200,
      reason: 'OK',
      contentLength: 12,
      keepAlive: true,
    });
    expect(parseResponseHead('HTTP/1.1 204\r\nConnection: close')).toMatchObject({
      status: 204,
      contentLength: -1,
      keepAlive: false,
    });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked')).toMatchObject({
      chunked: true,
    });
    expect(parseResponseHead('SSH-2.0-OpenSSH')).toMatch(/not HTTP/);
  });
});

describe('headEnd', () => {
  it('finds the blank line, also when it straddles two reads', () => {
    const buf = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY');
    expect(headEnd(buf)).toBe(buf.indexOf('BODY'));
    expect(headEnd(buf, 26)).toBe(buf.indexOf('BODY'));
    expect(headEnd(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(-1);
  });
});

describe('ChunkedScanner', () => {
  const body = '4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n';

  it('finds the end of a chunked body fed byte by byte, and hands out the data', () => {
    const scanner = new ChunkedScanner();
    const data: string[] = [];
    const bytes = Buffer.from(`${body}NEXT`);
    let end = -1;
    for (let i = 0; i < bytes.length && end < 0; i++) {
      const r = scanner.scan(bytes.subarray(i, i + 1), (d) => data.push(d.toString()));
      if (r >= 0) end = i + r;
    }
    expect(end).toBe(body.length);
    expect(data.join('')).toBe('Wikipedia');
    expect(scanner.dataBytes).toBe(9);
    expect(scanner.done).toBe(true);
  });

  it('finds the end in one buffer', () => {
    expect(new ChunkedScanner().scan(Buffer.from(`${body}GET /`))).toBe(body.length);
    expect(new ChunkedScanner().scan(Buffer.from('0\r\n\r\n'))).toBe(5);
  });

  it('refuses a trailer line ending in a bare LF instead of taking it for the end (smuggling)', () => {
    const scanner = new ChunkedScanner();
    expect(scanner.scan(Buffer.from('1\r\nA\r\n0\r\nX\nGET /admin HTTP/1.1\r\n\r\n'))).toBe(-2);
    expect(scanner.error).toMatch(/trailer/);
  });

  it('accepts the extensions and trailers RFC 9112 allows', () => {
    const text = '1;a\r\nA\r\n1;a=b;c="x \\"y"\r\nB\r\n0;last\r\nX-T: 1\r\nY:\r\n\r\n';
    expect(new ChunkedScanner().scan(Buffer.from(`${text}NEXT`))).toBe(text.length);
  });

  it.each([
    ['zz\r\n'],
    ['4\r\nWikipedia\r\n'],
    ['4\nWiki\r\n'],
    ['ffffffffffffff\r\n'],
    ['0\r\nX\n\r\n'],
    ['0\r\nX\r\n\r\n'],
    ['0\r\nX: 1\n\r\n'],
    ['0\r\nX: 1\r\n\n'],
    ['0\r\n\n'],
    ['0\r\n\r\r\n'],
    ['0\r\nX: a\rb\r\n\r\n'],
    ['0\r\nX : 1\r\n\r\n'],
    ['0\n\r\n'],
    ['1\r\nA\n0\r\n\r\n'],
    ['1 \r\nA\r\n'],
    ['1;\r\nA\r\n'],
    ['1; a=b\r\nA\r\n'],
    ['1;a=\r\nA\r\n'],
    ['1;a="b\r\nA\r\n'],
    ['1;a=b c\r\nA\r\n'],
    ['1;a\nA\r\n'],
    [`0\r\nX: ${'a'.repeat(5000)}\r\n\r\n`],
  ])('refuses broken framing %j', (text) => {
    const scanner = new ChunkedScanner();
    expect(scanner.scan(Buffer.from(text))).toBe(-2);
    expect(scanner.error).toBeTruthy();
  });
});
