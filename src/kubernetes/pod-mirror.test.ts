import { describe, expect, it } from 'vitest';
import type { AuditLog } from '../audit/index.js';
import { createSqliteStateStore } from '../state/index.js';
import type { Pod } from './client.js';
import { PodMirror, podState } from './pod-mirror.js';

const pod = (
  name: string,
  extra: { ready?: boolean; phase?: string; deleting?: boolean; env?: string } = {},
): Pod => ({
  metadata: {
    name,
    namespace: 'hello-k8s',
    labels: {
      'cairn.dev/service': 'hello',
      'cairn.dev/env': extra.env ?? 'k8s',
      'cairn.dev/release': 'rel-0123456789ab',
    },
    ...(extra.deleting ? { deletionTimestamp: '2026-12-07T00:00:00Z' } : {}),
  },
  spec: { containers: [{ image: 'r/hello@sha256:aa', ports: [{ containerPort: 8080 }] }] },
  status: {
    phase: extra.phase ?? 'Running',
    podIP: '10.244.0.9',
    conditions: [{ type: 'Ready', status: extra.ready ? 'True' : 'False' }],
  },
});

describe('pods as instance records', () => {
  it('reads a pod state from its phase, readiness and deletion', () => {
    expect(podState(pod('a'))).toBe('starting');
    expect(podState(pod('a', { ready: true }))).toBe('healthy');
    expect(podState(pod('a', { ready: true, deleting: true }))).toBe('draining');
    expect(podState(pod('a', { phase: 'Failed' }))).toBe('failed');
    expect(podState(pod('a', { ready: true }), true)).toBe('stopped');
    const crashing = pod('a');
    crashing.status!.containerStatuses = [
      {
        restartCount: 1,
        state: { waiting: { reason: 'CrashLoopBackOff' } },
        lastState: { terminated: { reason: 'Error', exitCode: 1 } },
      },
    ];
    expect(podState(crashing)).toBe('failed');
  });

  it('follows one pod from created to Ready to gone, audits its start and stop, and ignores other envs', () => {
    const store = createSqliteStateStore({ path: ':memory:' });
    store.putRelease({
      id: 'rel-0123456789ab',
      service: 'hello',
      imageDigest: 'sha256:aa',
      configDigest: 'sha256:bb',
      config: {},
      createdAt: new Date().toISOString(),
    });
    const actions: string[] = [];
    const audit = { record: (e: { action: string }) => actions.push(e.action) } as unknown as AuditLog;
    const changed: string[] = [];
    const mirror = new PodMirror({ store, audit, env: 'k8s', changed: (s) => changed.push(s) });
    mirror.seen(pod('hello-1'));
    mirror.seen(pod('hello-1', { ready: true }));
    mirror.seen(pod('other', { ready: true, env: 'prod' }));
    expect(store.getInstance('hello-1')).toMatchObject({
      state: 'healthy',
      driver: 'kubernetes',
      endpoint: '10.244.0.9:8080',
      releaseId: 'rel-0123456789ab',
    });
    expect(store.getInstance('other')).toBeUndefined();
    const stranger = pod('stranger', { ready: true });
    stranger.metadata!.labels!['cairn.dev/release'] = 'rel-ffffffffffff';
    mirror.seen(stranger);
    expect(store.getInstance('stranger')).toBeUndefined();
    mirror.gone(pod('hello-1', { ready: true }));
    expect(store.getInstance('hello-1')?.state).toBe('stopped');
    expect(actions).toEqual(['instance.start', 'instance.stop']);
    expect(changed).toEqual(['hello', 'hello', 'hello']);
    mirror.seen(pod('hello-2', { ready: true }));
    mirror.forgetAllBut([]);
    expect(store.getInstance('hello-2')?.state).toBe('stopped');
  });
});
