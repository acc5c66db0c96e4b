import { describe, expect, it } from 'vitest';
import type { AuditEvent, AuditLog } from '../audit/index.js';
import { createSqliteStateStore } from '../state/index.js';
import type { Cluster } from './cluster.js';
import type { Manifest } from './manifests.js';
import { WorkloadGuard } from './workload-guard.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const applied: Manifest = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'hello-rel-1' },
  spec: { replicas: 2, template: { spec: { containers: [{ image: `reg/hello@${DIGEST}` }] } } },
};
const binding: Manifest = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: 'cairn-gates.ns' },
};
const labels = { 'cairn.dev/service': 'hello', 'cairn.dev/env': 'k8s', 'cairn.dev/release': 'rel-1' };

function setup(mode?: 'enforce' | 'warn') {
  const recorded: AuditEvent[] = [];
  const calls: string[] = [];
  const cluster = {
    restore: async (m: Manifest) => void calls.push(`restore ${m.kind}/${String(m.metadata.name)}`),
    apply: async (ms: Manifest[]) => void calls.push(`apply ${ms.map((m) => m.kind).join()}`),
    remove: async (o: { kind: string }) => void calls.push(`remove ${o.kind}`),
  } as unknown as Cluster;
  let now = 1_000_000;
  const guard = new WorkloadGuard({
    env: 'k8s',
    store: createSqliteStateStore({ path: ':memory:' }),
    audit: { record: (e: AuditEvent) => recorded.push(e) } as unknown as AuditLog,
    cluster: async () => cluster,
    applied: (name) => (name === 'hello-rel-1' ? applied : undefined),
    doorObject: (key) => (key === 'ValidatingAdmissionPolicyBinding/cairn-gates.ns' ? binding : undefined),
    restoreDoor: async () => void calls.push('restoreDoor'),
    ...(mode ? { mode } : {}),
    now: () => now,
  });
  return { guard, recorded, calls, tick: (ms: number) => (now += ms) };
}

const live = (replicas: number, manager = 'kubectl') => ({
  metadata: {
    name: 'hello-rel-1',
    labels,
    managedFields: [{ manager, operation: 'Update', subresource: 'scale', fieldsV1: {} }],
  },
  spec: { replicas, template: { spec: { containers: [{ image: `reg/hello@${DIGEST}` }] } } },
});

describe('the workload guard', () => {
  it('a scaled Deployment is restored once, audited as detected, then as repaired with its time', async () => {
    const { guard, recorded, calls, tick } = setup();
    guard.deploymentSeen(live(4));
    guard.deploymentSeen(live(4)); // the same finding again: neither audited nor repaired twice
    await Promise.resolve();
    expect(calls).toEqual(['restore Deployment/hello-rel-1']);
    expect(guard.findings().map((f) => f.reasons)).toEqual([['spec.replicas: 2 → 4 (by kubectl (scale))']]);
    tick(120);
    guard.deploymentSeen({ ...live(2), metadata: { ...live(2).metadata, managedFields: [] } });
    expect(recorded.map((e) => e.action)).toEqual(['drift.detected', 'drift.repaired']);
    expect(recorded[1]!.detail).toMatchObject({ repairMs: 120 });
    expect(guard.findings()).toEqual([]);
  });

  it('under drift.mode warn, a scaled Deployment and a foreign pod are reported, not repaired; the door is still put back', async () => {
    const { guard, recorded, calls } = setup('warn');
    guard.deploymentSeen(live(4));
    guard.podSeen({ metadata: { name: 'intruder', labels } });
    guard.doorSeen({ kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: 'cairn-gates.ns' } }, true);
    await Promise.resolve();
    expect(calls).toEqual(['apply ValidatingAdmissionPolicyBinding']);
    expect(recorded.filter((e) => e.action === 'drift.detected').map((e) => e.detail?.remediation)).toEqual([
      'none (drift.mode warn)',
      'none (drift.mode warn)',
      'reapply',
    ]);
    expect(guard.findings().map((f) => f.object)).toEqual([
      'Deployment/hello-rel-1',
      'Pod/intruder',
      'ValidatingAdmissionPolicyBinding/cairn-gates.ns',
    ]);
    // Someone else scales it back and deletes the pod: settled, and not called cairn's repair.
    guard.deploymentSeen({ ...live(2), metadata: { ...live(2).metadata, managedFields: [] } });
    guard.podSeen({ metadata: { name: 'intruder', labels, deletionTimestamp: 'now' } });
    const settled = recorded.filter((e) => e.action === 'drift.repaired');
    expect(settled.map((e) => [e.subject.instance, e.reason])).toEqual([
      ['Deployment/hello-rel-1', 'back as cairn applied it (not by cairn: drift.mode warn)'],
      ['Pod/intruder', 'gone (not by cairn: drift.mode warn)'],
    ]);
  });

  it('a Deployment cairn has not applied in this process is not judged', () => {
    const { guard, recorded } = setup();
    guard.deploymentSeen({ ...live(9), metadata: { ...live(9).metadata, name: 'other' } });
    expect(recorded).toEqual([]);
  });

  it('a deleted Binding is applied again; a key someone wrote into the allow-list is dropped', async () => {
    const { guard, recorded, calls } = setup();
    guard.doorSeen({ kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: 'cairn-gates.ns' } }, true);
    await Promise.resolve();
    expect(calls).toEqual(['apply ValidatingAdmissionPolicyBinding']);
    expect(recorded[0]!.reason).toBe('1 difference(s), first deleted');
    guard.doorSeen(
      {
        kind: 'ConfigMap',
        metadata: {
          name: 'cairn-admitted',
          managedFields: [{ manager: 'cairn', fieldsV1: { 'f:data': { 'f:sha256.a': {} } } }],
        },
      },
      false,
    );
    expect(recorded).toHaveLength(1); // cairn's own keys only: in sync
  });

  it('a refusal event of a cairn policy is audited once a minute, other events never', () => {
    const { guard, recorded, tick } = setup();
    const event = {
      reason: 'FailedCreate',
      message:
        "pods \"x\" is forbidden: ValidatingAdmissionPolicy 'cairn-gates.ns' with binding 'cairn-gates.ns' denied request",
      lastTimestamp: new Date(1_000_000).toISOString(),
      involvedObject: { kind: 'ReplicaSet', name: 'intruder-1' },
    };
    guard.eventSeen(event);
    guard.eventSeen(event);
    guard.eventSeen({ ...event, reason: 'SuccessfulCreate' });
    expect(recorded.map((e) => [e.action, e.subject.instance, e.detail?.policy])).toEqual([
      ['admission.refused_by_cluster', 'ReplicaSet/intruder-1', 'cairn-gates.ns'],
    ]);
    tick(61_000);
    guard.eventSeen({ ...event, lastTimestamp: new Date(1_061_000).toISOString() });
    expect(recorded).toHaveLength(2);
  });
});
