import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../builtin-gateway.js';
import type { GatewayRoute } from '../types.js';
import { type HaproxyConfigInput, mapPath, renderHaproxyConfig } from './config.js';
import { HOP_BY_HOP_LUA, HOP_BY_HOP_SCRIPT } from './hop-by-hop.js';
import { SlotTable } from './slots.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-haproxy-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const routes: GatewayRoute[] = [
  { host: 'app.test', path: '/', service: 'web', maxBodyBytes: 1024, timeoutMs: 500 },
  { host: 'app.test', path: '/api', service: 'api', rateLimit: { rps: 0.5, burst: 2 } },
  { host: '*.example.com', path: '/', service: 'web' },
  { host: '*', path: '/', service: 'web' },
];

function input(overrides: Partial<HaproxyConfigInput> = {}): HaproxyConfigInput {
  const slots = new SlotTable(['web', 'api'], { split: mapPath(dir, 'split'), pin: mapPath(dir, 'pin') });
  slots.apply('web', [
    { release: 'rel-a', weight: 100, endpoints: [{ id: 'ins-1', address: '127.0.0.1:9001' }] },
  ]);
  return {
    layout: { dir, host: '127.0.0.1', port: 18080, logPort: 18081 },
    routes,
    limits: DEFAULT_LIMITS,
    pinHeader: true,
    trustForwarded: false,
    slots,
    ...overrides,
  };
}

describe('renderHaproxyConfig', () => {
  it('writes a config HAProxy itself accepts', () => {
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, renderHaproxyConfig(input({ stickyHeader: 'x-user', trustForwarded: true })));
    writeFileSync(mapPath(dir, 'split'), '');
    writeFileSync(mapPath(dir, 'pin'), '');
    writeFileSync(join(dir, HOP_BY_HOP_LUA), HOP_BY_HOP_SCRIPT);
    const out = execFileSync('haproxy', ['-c', '-f', file], { encoding: 'utf8', stdio: 'pipe' });
    expect(out).toContain('Configuration file is valid');
  });

  it('caps open connections per client address at the listener, before any request is read', () => {
    const text = renderHaproxyConfig(input({ limits: { ...DEFAULT_LIMITS, maxConnectionsPerClient: 7 } }));
    expect(text).toContain('  tcp-request connection track-sc1 src\n');
    expect(text).toContain('  tcp-request connection reject if { sc1_conn_cur gt 7 }\n');
    expect(text).toMatch(/http-request return status 501 .* if METH_CONNECT\n/);
  });

  it('tries routes most specific first: exact host and longer path before wildcards', () => {
    const text = renderHaproxyConfig(input());
    const order = [...text.matchAll(/set-var\(txn\.route\) int\((\d+)\)/g)].map((m) => m[1]);
    expect(order).toEqual(['1', '0', '2', '3']);
    expect(text).toContain(
      '{ path -m str /api } || !{ var(txn.route) -m found } { var(txn.host) -m str app.test } { path -m beg /api/ }',
    );
  });

  it('restores the servers a restarted HAProxy had', () => {
    const text = renderHaproxyConfig(input());
    expect(text).toMatch(
      /backend web\.p0\n {2}balance leastconn\n.*\n {2}server e1 127\.0\.0\.1:9001\n\nbackend web\.p1\n/,
    );
  });

  it('turns route policies into rules scoped to their route', () => {
    const text = renderHaproxyConfig(input());
    expect(text).toContain(
      'hdr retry-after 2 if { var(txn.route) -m int 1 } { sc_http_req_rate(0,rl.1) gt 2 }',
    );
    expect(text).toContain('store http_req_rate(4000)');
    expect(text).toContain('{ req.hdr_val(content-length) gt 1024 }');
    expect(text).toContain('http-request set-timeout server 500 if { var(txn.route) -m int 0 }');
  });

  it('leaves the pin header out where the environment disables it', () => {
    expect(renderHaproxyConfig(input({ pinHeader: false }))).not.toContain('pin.map');
  });

  it('refuses a route path HAProxy rules cannot hold, naming the route', () => {
    expect(() =>
      renderHaproxyConfig(input({ routes: [{ host: '*', path: '/a b', service: 'web' }] })),
    ).toThrow(/routes\[0\] path "\/a b"/);
  });
});
