import { describe, expect, it } from 'vitest';
import {
  backendRequestHead,
  clientIpOf,
  requestHeadersForBackend,
  responseHeadersFromRaw,
} from './forward-headers.js';

const ctx = { clientIp: '10.0.0.9', proto: 'http', trustForwarded: false };
const asObject = (flat: string[]) => {
  const o: Record<string, string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    o[name] = [...(o[name] ?? []), flat[i + 1]!];
  }
  return o;
};

describe('requestHeadersForBackend', () => {
  it('drops a caller identity a client claims for itself (only the identity hop sets it)', () => {
    const out = asObject(
      requestHeadersForBackend(
        ['Host', 'a', 'X-Cairn-Caller-Spiffe-Id', 'spiffe://shop.cairn/prod/admin', 'x-cairn-caller-x', '1'],
        ctx,
      ),
    );
    expect(Object.keys(out).filter((n) => n.startsWith('x-cairn-caller'))).toEqual([]);
  });

  const raw = [
    'Host',
    'shop.test:8080',
    'Connection',
    'keep-alive, X-Secret-Hop',
    'X-Secret-Hop',
    'drop me',
    'Keep-Alive',
    'timeout=5',
    'TE',
    'trailers',
    'Transfer-Encoding',
    'chunked',
    'Proxy-Authorization',
    'Basic xyz',
    'X-Forwarded-For',
    '6.6.6.6',
    'X-Cairn-Release',
    'canary',
    'Accept',
    'text/html',
    'Set-Thing',
    'a',
    'Set-Thing',
    'b',
  ];

  it('drops hop-by-hop headers, including those Connection names, and the pin header', () => {
    const h = asObject(requestHeadersForBackend(raw, ctx));
    for (const name of [
      'connection',
      'x-secret-hop',
      'keep-alive',
      'te',
      'transfer-encoding',
      'proxy-authorization',
      'x-cairn-release',
    ])
      expect(h[name]).toBeUndefined();
    expect(h.accept).toEqual(['text/html']);
    expect(h['set-thing']).toEqual(['a', 'b']);
    expect(h.host).toEqual(['shop.test:8080']);
  });

  it('replaces client-supplied X-Forwarded-* by default', () => {
    const h = asObject(requestHeadersForBackend(raw, ctx));
    expect(h['x-forwarded-for']).toEqual(['10.0.0.9']);
    expect(h['x-forwarded-proto']).toEqual(['http']);
    expect(h['x-forwarded-host']).toEqual(['shop.test:8080']);
  });

  it('appends to X-Forwarded-For when told to trust the proxy in front', () => {
    const h = asObject(requestHeadersForBackend(raw, { ...ctx, trustForwarded: true }));
    expect(h['x-forwarded-for']).toEqual(['6.6.6.6, 10.0.0.9']);
  });

  it('sends the host the request was routed by, once, in place of the Host the client sent', () => {
    const h = asObject(
      requestHeadersForBackend(['Host', 'b.test', 'Accept', '*/*'], { ...ctx, host: 'a.test' }),
    );
    expect(h.host).toEqual(['a.test']);
    expect(h['x-forwarded-host']).toEqual(['a.test']);
    const head = { method: 'GET', target: '/x', headers: ['Accept', '*/*'], chunked: false };
    expect(backendRequestHead(head, { ...ctx, host: '127.0.0.1:8080' })).toMatch(
      /^GET \/x HTTP\/1\.1\r\nhost: 127\.0\.0\.1:8080\r\n/,
    );
  });

  it('keeps Upgrade and Connection for tunnels', () => {
    const h = asObject(
      requestHeadersForBackend(['Connection', 'Upgrade', 'Upgrade', 'websocket'], {
        ...ctx,
        keepUpgrade: true,
      }),
    );
    expect(h.connection).toEqual(['Upgrade']);
    expect(h.upgrade).toEqual(['websocket']);
  });
});

describe('responseHeadersFromRaw', () => {
  it('drops hop-by-hop response headers and keeps repeated ones', () => {
    const raw = [
      'Connection',
      'close',
      'Keep-Alive',
      'x',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'Content-Length',
      '3',
    ];
    expect(responseHeadersFromRaw(raw.map((s) => Buffer.from(s)))).toEqual([
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'Content-Length',
      '3',
    ]);
  });
});

describe('clientIpOf', () => {
  it('strips the IPv4-mapped prefix', () => {
    expect(clientIpOf('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(clientIpOf('::1')).toBe('::1');
  });
});
