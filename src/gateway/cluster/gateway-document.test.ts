import { describe, expect, it } from 'vitest';
import { documentOf, parseDocument } from './gateway-document.js';

const pool = (release: string, weight: number, address = '10.0.0.5:8080') => ({
  release,
  weight,
  endpoints: [{ id: `pod-${release}`, address }],
});
const doc = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    version: 3,
    config: {
      engine: 'builtin',
      listen: '127.0.0.1:8443',
      routes: [{ host: '*', path: '/', service: 'hello' }],
    },
    pools: { hello: [pool('r1', 90), pool('r2', 10)] },
    ...over,
  });

describe('the gateway document of the ConfigMap', () => {
  it('gives version, routes and pools of a good document', () => {
    const d = parseDocument(doc());
    expect(d.version).toBe(3);
    expect(d.config.routes[0]!.service).toBe('hello');
    expect(d.pools.hello!.map((p) => p.weight)).toEqual([90, 10]);
  });

  it('refuses text that is not JSON, naming the key', () => {
    expect(() => parseDocument('{"version": 1,')).toThrow(/reading gateway\.json: not JSON/);
  });

  it.each([
    [{ version: -1 }, /version -1 is not a whole number/],
    [{ version: '4' }, /version "4"/],
    [{ config: { routes: 'x' } }, /config\.routes is not a list/],
    [{ config: { routes: [{ host: '*', path: '/' }] } }, /config\.routes\[0\]\.service/],
    [{ pools: { hello: [pool('r1', 150)] } }, /release r1 has weight 150/],
    [{ pools: { hello: [pool('r1', 50), pool('r1', 50)] } }, /appears twice/],
    [{ pools: { hello: [pool('r1', 100, 'not-an-address')] } }, /not host:port/],
    [{ pools: { hello: [{ release: 'r1', weight: 100 }] } }, /endpoints is not a list/],
    [{ pools: { hello: [{ ...pool('r1', 100), tls: { spiffeId: 'spiffe://a/b/c' } }] } }, /has tls/],
  ])('refuses a bad document %j', (over, message) => {
    expect(() => parseDocument(doc(over))).toThrow(message);
  });

  it('reads the document from the ConfigMap key gateway.json, and says when the key is missing', () => {
    expect(documentOf({ data: { 'gateway.json': doc() } }).version).toBe(3);
    expect(() => documentOf({ metadata: { name: 'cairn-gateway' }, data: {} })).toThrow(
      /ConfigMap cairn-gateway has no key gateway\.json/,
    );
  });
});
