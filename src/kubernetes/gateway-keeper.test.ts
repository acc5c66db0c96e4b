import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Pod } from './client.js';
import type { Cluster } from './cluster.js';
import { GatewayKeeper, gatewayApiServer } from './gateway-keeper.js';

const readyPod = (name: string): Pod =>
  ({
    metadata: { name },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  }) as Pod;

/** A pod watch the test fails at will, listing the pods the cluster has. */
class FakeWatch extends EventEmitter {
  stopped = false;
  constructor(private readonly pods: Pod[]) {
    super();
  }
  async start() {}
  async stop() {
    this.stopped = true;
  }
  list() {
    return this.pods;
  }
}

function fakeCluster() {
  const watches: FakeWatch[] = [];
  const cluster = {
    namespace: 'app',
    server: 'https://127.0.0.1:6443',
    async apply() {},
    watch() {
      const w = new FakeWatch([readyPod('gw-a')]);
      watches.push(w);
      return w;
    },
  } as unknown as Cluster;
  return { cluster, watches };
}

const until = async (ok: () => boolean, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
};

/** A keeper of a fake cluster whose pod watch starts again 10 ms after it fails. */
function watchedKeeper() {
  const { cluster, watches } = fakeCluster();
  const keeper = new GatewayKeeper({
    env: 'prod',
    gatewayNamespace: 'gw',
    listen: '127.0.0.1:8443',
    connect: async () => cluster,
    image: async () => ({ ref: 'reg/cairn-gateway@sha256:1', digest: 'sha256:1', uid: 65532 }) as never,
    admit: async () => {},
    applied: () => {},
    rewatchMs: 10,
  });
  return { keeper, watches };
}

describe('GatewayKeeper', () => {
  it('starts the gateway pod watch again after it fails, without waiting for a deploy', async () => {
    const { keeper, watches } = watchedKeeper();
    await keeper.ensure();
    expect(keeper.api().readyPods()).toEqual(['gw-a']);
    watches[0]!.emit('error', new Error('apiserver restarted'));
    expect(watches[0]!.stopped).toBe(true);
    await until(() => watches.length === 2 && keeper.api().readyPods().length === 1);
    expect(watches).toHaveLength(2);
    expect(keeper.api().readyPods()).toEqual(['gw-a']);
    await keeper.stop();
    expect(watches[1]!.stopped).toBe(true);
  });

  it('starts no watch again once stopped', async () => {
    const { keeper, watches } = watchedKeeper();
    await keeper.ensure();
    watches[0]!.emit('error', new Error('blip'));
    await keeper.stop();
    await new Promise((r) => setTimeout(r, 60));
    expect(watches).toHaveLength(1);
  });
});

describe("the gateway pods' apiserver", () => {
  it('is the kubeconfig server, path prefix kept; plain http is refused with a hint', () => {
    expect(gatewayApiServer('prod', 'https://rancher.example/k8s/clusters/c1')).toBe(
      'https://rancher.example/k8s/clusters/c1',
    );
    expect(gatewayApiServer('prod', 'https://127.0.0.1:16443')).toBe('https://127.0.0.1:16443');
    expect(() => gatewayApiServer('prod', 'http://127.0.0.1:8080')).toThrow(
      /starting the in-cluster gateway of environment prod: the kubeconfig's server "http:\/\/127.0.0.1:8080" is not an https URL/,
    );
  });

  it('refuses an http server before it pushes or applies anything', async () => {
    const { cluster, watches } = fakeCluster();
    const applied: unknown[] = [];
    const calls: string[] = [];
    Object.assign(cluster, { server: 'http://127.0.0.1:8080', apply: async () => void calls.push('apply') });
    const keeper = new GatewayKeeper({
      env: 'prod',
      gatewayNamespace: 'gw',
      listen: '127.0.0.1:8443',
      connect: async () => cluster,
      image: async () => {
        calls.push('image');
        return { ref: 'r', digest: 'sha256:1', uid: 65532 } as never;
      },
      admit: async () => {},
      applied: (objects) => applied.push(...objects),
    });
    await expect(keeper.ensure()).rejects.toThrow(/is not an https URL/);
    expect(applied).toEqual([]);
    expect(calls).toEqual([]);
    expect(watches).toEqual([]);
  });
});
