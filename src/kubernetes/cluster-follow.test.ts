import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';

/**
 * An apiserver that knows pod `web-1`: its log answers 400 (still starting) until `ready`, then two
 * lines and the end of the stream (never, with `hold`).
 */
function scriptedApiserver(state: { ready: boolean; hold: boolean; logReads: number; status?: object }) {
  return createServer((req, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/api/v1/namespaces/ns/pods/web-1')
      return json(200, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web-1', namespace: 'ns' },
        spec: { containers: [{ name: 'app' }] },
        ...(state.status ? { status: state.status } : {}),
      });
    if (url.pathname === '/api/v1/namespaces/ns/pods/web-1/log') {
      state.logReads++;
      if (!state.ready)
        return json(400, { kind: 'Status', code: 400, message: 'container "app" is waiting to start' });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('listening\n');
      if (!state.hold) setTimeout(() => res.end('stopping\n'), 20);
      return;
    }
    if (url.pathname === '/api') return json(200, { kind: 'APIVersions', versions: ['v1'] });
    if (url.pathname === '/api/v1')
      return json(200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [{ name: 'pods', namespaced: true, kind: 'Pod', verbs: ['get'] }],
      });
    json(404, { kind: 'Status', code: 404, message: 'not found' });
  });
}

describe('following a pod log', () => {
  let dir: string;
  let server: Server;
  const state: { ready: boolean; hold: boolean; logReads: number; status?: object } = {
    ready: false,
    hold: false,
    logReads: 0,
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-follow-'));
    state.ready = false;
    state.hold = false;
    state.status = undefined;
    state.logReads = 0;
    server = scriptedApiserver(state);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    writeFileSync(
      join(dir, 'kubeconfig'),
      `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
    );
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  it('retried while the pod starts, it leaves no listener on the shared signal, then prints the log to its end', async () => {
    // Given a pod whose container is still starting, followed as `cairn logs SERVICE -f` retries it
    const cluster = await Cluster.open({
      env: 'k8s',
      target: { kubeconfig: 'kubeconfig', namespace: 'ns', registry: '127.0.0.1:5000' },
      specDir: dir,
    });
    const controller = new AbortController();
    let out = '';
    const write = (text: string) => {
      out += text;
    };
    for (let attempt = 0; attempt < 12; attempt++)
      await expect(cluster.followPodLog('web-1', write, controller.signal)).rejects.toThrow(
        /following the log of pod web-1/,
      );
    expect(state.logReads).toBe(12);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);

    // When it has started and its container stops
    state.ready = true;
    await cluster.followPodLog('web-1', write, controller.signal);

    // Then its lines were printed, the follow ended by itself, and nothing is left listening
    expect(out).toBe('listening\nstopping\n');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('ends at once when the signal had already aborted (Ctrl-C while the stream opened)', async () => {
    state.ready = true;
    state.hold = true;
    const cluster = await Cluster.open({
      env: 'k8s',
      target: { kubeconfig: 'kubeconfig', namespace: 'ns', registry: '127.0.0.1:5000' },
      specDir: dir,
    });
    const controller = new AbortController();
    controller.abort();
    // The stream never ends by itself: an abort that came first must not be missed.
    await cluster.followPodLog('web-1', () => {}, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('says why a pod whose container never ran has no log to follow, without asking for it', async () => {
    state.status = {
      phase: 'Pending',
      containerStatuses: [{ restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }],
    };
    const cluster = await Cluster.open({
      env: 'k8s',
      target: { kubeconfig: 'kubeconfig', namespace: 'ns', registry: '127.0.0.1:5000' },
      specDir: dir,
    });
    await expect(cluster.followPodLog('web-1', () => {}, new AbortController().signal)).rejects.toMatchObject(
      {
        message:
          'following the log of pod web-1 in environment k8s: its container has not started yet (ContainerCreating)',
        hint: expect.stringContaining('cairn logs SERVICE --env ENV -f'),
      },
    );
    expect(state.logReads).toBe(0);
    // A crash-looping container has run: its log is followed as it is.
    state.status = {
      phase: 'Running',
      containerStatuses: [{ restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } } }],
    };
    state.ready = true;
    let out = '';
    await cluster.followPodLog('web-1', (t) => (out += t), new AbortController().signal);
    expect(out).toBe('listening\nstopping\n');
  });
});
