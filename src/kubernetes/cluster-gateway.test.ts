import { describe, expect, it } from 'vitest';
import { MetricsRecorder, type Pool } from '../gateway/index.js';
import { ClusterGateway, type GatewayPodsApi } from './cluster-gateway.js';
import type { GatewayDocument } from './gateway-manifests.js';

const config = { engine: 'builtin' as const, listen: '127.0.0.1:8443', routes: [] };
const pools = (release: string): Pool[] => [
  { release, weight: 100, endpoints: [{ id: `${release}-pod`, address: '10.244.0.9:8080' }] },
];

/** Gateway pods that apply the ConfigMap after `lagMs` each, as their watch would. */
function fakeCluster(lagMs: Record<string, number>, live?: GatewayDocument) {
  const applied = new Map<string, number>(Object.keys(lagMs).map((p) => [p, live?.version ?? 0]));
  const inflight = new Map<string, Record<string, number>>();
  const recorders = new Map<string, MetricsRecorder>(
    Object.keys(lagMs).map((p) => [p, new MetricsRecorder()]),
  );
  const writes: GatewayDocument[] = [];
  const api: GatewayPodsApi = {
    async writeConfig(doc) {
      writes.push(doc);
      for (const [pod, lag] of Object.entries(lagMs))
        if (lag >= 0) setTimeout(() => applied.set(pod, doc.version), lag);
    },
    async readConfig() {
      return live;
    },
    readyPods: () => Object.keys(lagMs),
    async podGet(pod, path) {
      if (path === '/_cairn/status') return { version: applied.get(pod), inflight: inflight.get(pod) ?? {} };
      if (path.startsWith('/_cairn/metrics?since=')) return recorders.get(pod)!.exportSince(0);
      throw new Error(`unexpected ${path}`);
    },
  };
  return { api, writes, applied, inflight, recorders };
}

describe('ClusterGateway (the in-cluster gateway as a TrafficRouter)', () => {
  it('resolves setPools only once every Ready pod reports the new version, keeping the other services', async () => {
    const live = { version: 41, config, pools: { other: pools('rel-other') } };
    const cluster = fakeCluster({ 'gw-a': 0, 'gw-b': 150 }, live);
    const gateway = new ClusterGateway({ env: 'prod', gatewayNamespace: 'gw', config, api: cluster.api });
    const started = Date.now();
    await gateway.setPools('hello', pools('rel-1'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(cluster.applied.get('gw-b')).toBe(42);
    expect(cluster.writes.map((w) => [w.version, Object.keys(w.pools).sort()])).toEqual([
      [42, ['hello', 'other']],
    ]);
  });

  it('setRoutes (cairn apply) writes the new routes with the pools kept, once every pod serves them; a route secret never reaches the ConfigMap', async () => {
    const live = { version: 7, config, pools: { hello: pools('rel-1') } };
    const cluster = fakeCluster({ 'gw-a': 30 }, live);
    const gateway = new ClusterGateway({ env: 'prod', gatewayNamespace: 'gw', config, api: cluster.api });
    const route = { host: '*', path: '/small', service: 'hello', maxBodyBytes: 16 };
    await gateway.setRoutes([route]);
    expect(cluster.applied.get('gw-a')).toBe(8);
    expect(cluster.writes.map((w) => [w.version, w.config.routes, Object.keys(w.pools)])).toEqual([
      [8, [route], ['hello']],
    ]);
    expect(gateway.served.routes).toEqual([route]);
    await gateway.setPools('hello', pools('rel-2'));
    expect(cluster.writes.at(-1)!.config.routes).toEqual([route]);
    const secret = { ...route, auth: { secretBase64: 'c2VjcmV0' } };
    await expect(gateway.setRoutes([secret])).rejects.toThrow(/HS256 secret/);
    expect(JSON.stringify(cluster.writes)).not.toContain('c2VjcmV0');
  });

  it('writes one service after another in order, each a version of its own', async () => {
    const cluster = fakeCluster({ 'gw-a': 5 });
    const gateway = new ClusterGateway({ env: 'prod', gatewayNamespace: 'gw', config, api: cluster.api });
    await Promise.all([gateway.setPools('hello', pools('rel-1')), gateway.setPools('hello', pools('rel-2'))]);
    expect(cluster.writes.map((w) => [w.version, w.pools.hello![0]!.release])).toEqual([
      [1, 'rel-1'],
      [2, 'rel-2'],
    ]);
  });

  it('fails a write that a Ready pod does not apply in time, naming the pod', async () => {
    const cluster = fakeCluster({ 'gw-a': 0, 'gw-stuck': -1 });
    const gateway = new ClusterGateway({
      env: 'prod',
      gatewayNamespace: 'gw',
      config,
      api: cluster.api,
      settleTimeoutMs: 200,
    });
    await expect(gateway.setPools('hello', pools('rel-1'))).rejects.toThrow(
      /gateway pod gw-stuck \(namespace gw\) did not apply version 1 in time/,
    );
  });

  it('fails a write when no gateway pod is Ready', async () => {
    const cluster = fakeCluster({});
    const gateway = new ClusterGateway({
      env: 'prod',
      gatewayNamespace: 'gw',
      config,
      api: cluster.api,
      settleTimeoutMs: 100,
    });
    await expect(gateway.setPools('hello', pools('rel-1'))).rejects.toThrow(
      /no gateway pod is Ready in namespace gw/,
    );
  });

  it("merges the pods' window metrics into what the analysis reads", async () => {
    const cluster = fakeCluster({ 'gw-a': 0, 'gw-b': 0 });
    const now = Date.now();
    for (let i = 0; i < 10; i++) cluster.recorders.get('gw-a')!.record('r', 'hello', 'rel-2', 200, 5, now);
    for (let i = 0; i < 5; i++) cluster.recorders.get('gw-b')!.record('r', 'hello', 'rel-2', 503, 50, now);
    const gateway = new ClusterGateway({ env: 'prod', gatewayNamespace: 'gw', config, api: cluster.api });
    expect(gateway.metrics('hello', 'rel-2', 10_000).requests).toBe(0);
    await gateway.syncMetrics();
    const m = gateway.metrics('hello', 'rel-2', 10_000);
    expect(m).toMatchObject({ requests: 15, errors: 5 });
    expect(m.errorRate).toBeCloseTo(1 / 3);
    expect(gateway.snapshot().series.find((s) => s.release === 'rel-2')?.count).toBe(15);
  });

  it('drains an endpoint once no pod has a request in flight on it', async () => {
    const cluster = fakeCluster({ 'gw-a': 0, 'gw-b': 0 });
    cluster.inflight.set('gw-b', { 'pod-x': 2 });
    setTimeout(() => cluster.inflight.set('gw-b', { 'pod-x': 0 }), 250);
    const gateway = new ClusterGateway({ env: 'prod', gatewayNamespace: 'gw', config, api: cluster.api });
    const started = Date.now();
    await gateway.drain('pod-x', 5_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
  });
});

describe('ClusterGateway.open', () => {
  it('writes the live pools again and resolves once a pod serves them', async () => {
    const live = { version: 3, config, pools: { hello: pools('rel-1') } };
    const cluster = fakeCluster({ 'gw-a': 50 }, live);
    const gateway = new ClusterGateway({ env: 'prod', gatewayNamespace: 'gw', config, api: cluster.api });
    await gateway.open(5_000);
    expect(cluster.writes.map((w) => [w.version, w.pools])).toEqual([[4, live.pools]]);
    expect(cluster.applied.get('gw-a')).toBe(4);
    // Once it serves, a later open (each deploy's) writes nothing.
    await gateway.open(5_000);
    expect(cluster.writes).toHaveLength(1);
  });
});

describe('ClusterGateway.stop', () => {
  it('ends a pending open and setPools at once with a "stopping" error', async () => {
    const cluster = fakeCluster({});
    const gateway = new ClusterGateway({ env: 'prod', gatewayNamespace: 'gw', config, api: cluster.api });
    const opening = gateway.open(180_000);
    const writing = gateway.setPools('hello', pools('rel-1'));
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    gateway.stop();
    await expect(opening).rejects.toThrow(/environment prod: the control plane is stopping/);
    await expect(writing).rejects.toThrow(/the control plane is stopping/);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(gateway.drain('pod-x', 5_000)).rejects.toThrow(/stopping/);
  });
});

describe('ClusterGateway versions', () => {
  it('writes a version above what the pods report when the live document cannot be read', async () => {
    const cluster = fakeCluster({ 'gw-a': 150 });
    cluster.applied.set('gw-a', 57);
    const gateway = new ClusterGateway({ env: 'prod', gatewayNamespace: 'gw', config, api: cluster.api });
    const started = Date.now();
    await gateway.setPools('hello', pools('rel-1'));
    expect(cluster.writes.map((w) => w.version)).toEqual([58]);
    // Resolved only once the pod applied the write, not at once on its older version.
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(cluster.applied.get('gw-a')).toBe(58);
  });
});
