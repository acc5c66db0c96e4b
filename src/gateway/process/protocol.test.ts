import { describe, expect, it } from 'vitest';
import { MetricsRecorder } from '../window-metrics.js';
import { configHash, fromWire, toWire } from './protocol.js';

describe('the gateway config across the process boundary', () => {
  const config = {
    listen: '127.0.0.1:8080',
    routes: [
      { host: '*', path: '/', service: 'web', auth: { secret: new Uint8Array([0, 1, 255]), issuer: 'me' } },
      { host: 'a.test', path: '/api', service: 'api', rateLimit: { rps: 5, burst: 10 } },
    ],
    stickyHeader: 'x-user',
  };

  it('survives JSON whole: the HS256 secret bytes, the rate limit, the sticky header', () => {
    const back = fromWire(JSON.parse(JSON.stringify(toWire(config, '/logs/access.log'))));
    expect(back).toEqual({ ...config, engine: 'builtin' });
    expect(back.routes[0]!.auth!.secret).toBeInstanceOf(Uint8Array);
  });

  it('hashes equal configs equally and a changed route differently (a changed gateway is replaced)', () => {
    expect(configHash(toWire(config, 'x'))).toBe(configHash(toWire({ ...config }, 'x')));
    const moved = { ...config, routes: [{ ...config.routes[1]!, path: '/v2' }] };
    expect(configHash(toWire(moved, 'x'))).not.toBe(configHash(toWire(config, 'x')));
  });
});

describe('a copy of the gateway metrics in the control plane', () => {
  it('answers the same windows as the gateway after incremental syncs', () => {
    const gateway = new MetricsRecorder();
    const mirror = new MetricsRecorder();
    for (let s = 100; s < 110; s++)
      for (let i = 0; i < 10; i++) gateway.record('0', 'web', 'r1', s === 105 ? 503 : 200, i, s * 1000);
    mirror.importFrom(JSON.parse(JSON.stringify(gateway.exportSince(0))));
    gateway.record('0', 'web', 'r1', 200, 1, 109_500);
    gateway.record('0', 'web', 'r1', 200, 1, 110_100);
    mirror.importFrom(gateway.exportSince(108));
    for (const windowMs of [1_000, 3_000, 60_000])
      expect(mirror.query('web', 'r1', windowMs, 110_200)).toEqual(
        gateway.query('web', 'r1', windowMs, 110_200),
      );
    expect(mirror.snapshot()).toEqual(gateway.snapshot());
    expect(mirror.query('web', 'r1', 60_000, 110_200).errors).toBe(10);
  });

  it('sends only the asked seconds', () => {
    const gateway = new MetricsRecorder();
    for (let s = 0; s < 600; s++) gateway.record('0', 'web', 'r1', 200, 1, s * 1000);
    expect(gateway.exportSince(598).slots.map((s) => s.second)).toEqual([598, 599]);
  });
});
