import { describe, expect, it } from 'vitest';
import { renderPrometheus } from './prometheus.js';
import { MetricsRecorder, quantileMs } from './window-metrics.js';

describe('MetricsRecorder', () => {
  it('counts requests, errors and status classes of one release in a window', () => {
    const m = new MetricsRecorder();
    for (let i = 0; i < 90; i++) m.record('0', 'web', 'rel-a', 200, 5, 10_000);
    for (let i = 0; i < 10; i++) m.record('0', 'web', 'rel-a', 503, 5, 10_500);
    m.record('0', 'web', 'rel-b', 200, 5, 10_500);
    const w = m.query('web', 'rel-a', 5_000, 11_000);
    expect(w.requests).toBe(100);
    expect(w.errors).toBe(10);
    expect(w.errorRate).toBeCloseTo(0.1);
    expect(w.statusClasses).toEqual({ '1xx': 0, '2xx': 90, '3xx': 0, '4xx': 0, '5xx': 10 });
  });

  it('leaves out requests older than the window', () => {
    const m = new MetricsRecorder();
    m.record('0', 'web', 'r', 200, 1, 1_000);
    m.record('0', 'web', 'r', 200, 1, 9_000);
    expect(m.query('web', 'r', 5_000, 10_000).requests).toBe(1);
    expect(m.query('web', 'r', 60_000, 10_000).requests).toBe(2);
  });

  it('reuses ring slots without leaking old counts', () => {
    const m = new MetricsRecorder(10_000);
    m.record('0', 'web', 'r', 500, 1, 0);
    m.record('0', 'web', 'r', 200, 1, 11_000); // same slot index, a later second
    const w = m.query('web', 'r', 10_000, 11_000);
    expect(w.requests).toBe(1);
    expect(w.errors).toBe(0);
  });

  it('estimates latency percentiles from the histogram', () => {
    const m = new MetricsRecorder();
    for (let i = 1; i <= 1000; i++) m.record('0', 'web', 'r', 200, i % 50 === 0 ? 900 : 3, 5_000);
    const w = m.query('web', 'r', 10_000, 5_000);
    expect(w.p50Ms).toBeGreaterThan(2);
    expect(w.p50Ms).toBeLessThanOrEqual(3);
    expect(w.p99Ms).toBeGreaterThan(500);
    expect(w.p99Ms).toBeLessThanOrEqual(1024);
  });

  it('forgets the window of a release idle for longer than the retention', () => {
    const m = new MetricsRecorder(10_000);
    m.record('0', 'web', 'old', 200, 1, 0);
    m.record('0', 'web', 'new', 200, 1, 30_000);
    m.forgetIdle(30_000);
    expect(m.query('web', 'old', 1e9, 30_000).requests).toBe(0);
    expect(m.query('web', 'new', 10_000, 30_000).requests).toBe(1);
  });

  it('answers zeros for a release it never saw', () => {
    const w = new MetricsRecorder().query('web', 'nope', 60_000, 0);
    expect(w).toMatchObject({ requests: 0, errors: 0, errorRate: 0, p99Ms: 0 });
    expect(quantileMs([0, 0], 0.5)).toBe(0);
  });
});

describe('renderPrometheus', () => {
  it('renders counters by status class and a cumulative histogram in seconds', () => {
    const m = new MetricsRecorder();
    m.record('0', 'web', 'rel-a', 200, 0.4, 0);
    m.record('0', 'web', 'rel-a', 502, 70, 0);
    const text = renderPrometheus(m.snapshot());
    expect(text).toContain('# TYPE cairn_gateway_requests_total counter');
    expect(text).toContain(
      'cairn_gateway_requests_total{route="0",service="web",release="rel-a",code="2xx"} 1',
    );
    expect(text).toContain(
      'cairn_gateway_requests_total{route="0",service="web",release="rel-a",code="5xx"} 1',
    );
    expect(text).toContain(
      'cairn_gateway_request_duration_seconds_bucket{route="0",service="web",release="rel-a",le="0.0005"} 1',
    );
    expect(text).toContain(
      'cairn_gateway_request_duration_seconds_bucket{route="0",service="web",release="rel-a",le="0.096"} 2',
    );
    expect(text).toContain(
      'cairn_gateway_request_duration_seconds_bucket{route="0",service="web",release="rel-a",le="+Inf"} 2',
    );
    expect(text).toContain(
      'cairn_gateway_request_duration_seconds_count{route="0",service="web",release="rel-a"} 2',
    );
    expect(text.endsWith('\n')).toBe(true);
  });

  it('labels series by environment when given several gateways', () => {
    const dev = new MetricsRecorder();
    dev.record('0', 'web', 'r1', 200, 1, 0);
    const prod = new MetricsRecorder();
    prod.record('0', 'web', 'r2', 200, 1, 0);
    const text = renderPrometheus({ dev: dev.snapshot(), prod: prod.snapshot() });
    expect(text).toContain(
      'cairn_gateway_requests_total{environment="dev",route="0",service="web",release="r1",code="2xx"} 1',
    );
    expect(text).toContain(
      'cairn_gateway_requests_total{environment="prod",route="0",service="web",release="r2",code="2xx"} 1',
    );
    expect(text.match(/# TYPE cairn_gateway_requests_total/g)).toHaveLength(1);
  });

  it('escapes label values', () => {
    const m = new MetricsRecorder();
    m.record('0', 'we"b\\', 'r\n', 200, 1, 0);
    expect(renderPrometheus(m.snapshot())).toContain('service="we\\"b\\\\",release="r\\n"');
  });
});
