import { describe, expect, it } from 'vitest';
import { normaliseHost, RouteTable } from './route-table.js';

const table = new RouteTable([
  { host: '*', path: '/', service: 'web' },
  { host: '*', path: '/api', service: 'api' },
  { host: '*.example.com', path: '/', service: 'tenant' },
  { host: 'admin.example.com', path: '/', service: 'admin' },
  { host: 'admin.example.com', path: '/api/v2/', service: 'admin-api' },
]);
const serviceFor = (host: string, url: string) => table.match(host, url)?.route.service;

describe('RouteTable', () => {
  it('prefers the exact host over a wildcard over *', () => {
    expect(serviceFor('admin.example.com', '/x')).toBe('admin');
    expect(serviceFor('shop.example.com', '/x')).toBe('tenant');
    expect(serviceFor('other.org', '/x')).toBe('web');
  });

  it('chooses the longest path prefix, at segment boundaries only', () => {
    expect(serviceFor('other.org', '/api')).toBe('api');
    expect(serviceFor('other.org', '/api/users?x=1')).toBe('api');
    expect(serviceFor('other.org', '/api?x=1')).toBe('api');
    expect(serviceFor('other.org', '/apix')).toBe('web');
    expect(serviceFor('admin.example.com', '/api/v2/things')).toBe('admin-api');
    expect(serviceFor('admin.example.com', '/api/v2')).toBe('admin-api');
  });

  it('ignores the port and case of the Host header', () => {
    expect(serviceFor('ADMIN.example.com:8080', '/')).toBe('admin');
    expect(normaliseHost('[::1]:80')).toBe('[::1]');
  });

  it('does not let a wildcard match the bare domain', () => {
    const t = new RouteTable([{ host: '*.example.com', path: '/', service: 'tenant' }]);
    expect(t.match('example.com', '/')).toBeUndefined();
    expect(t.match('a.example.com', '/')?.route.service).toBe('tenant');
  });

  it('answers nothing for an unknown host when there is no catch-all', () => {
    const t = new RouteTable([{ host: 'a.test', path: '/', service: 's' }]);
    expect(t.match('b.test', '/')).toBeUndefined();
    expect(t.match(undefined, '/')).toBeUndefined();
  });

  it('rejects two routes for the same host and path', () => {
    expect(
      () =>
        new RouteTable([
          { host: 'a.test', path: '/x', service: 's' },
          { host: 'A.test', path: '/x/', service: 't' },
        ]),
    ).toThrow(/two routes for host/);
  });
});
