import { describe, expect, it } from 'vitest';
import { admittedManifest, gatesManifests, policyManifests } from './admission.js';
import { networkPolicyManifest } from './network-policy.js';
import {
  judgeDeployment,
  judgeDoor,
  judgePod,
  judgeWorkloads,
  type LiveDeployment,
} from './workload-drift.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const labels = { 'cairn.dev/service': 'hello', 'cairn.dev/env': 'k8s', 'cairn.dev/release': 'rel-1' };

function deployment(
  over: Partial<{ replicas: number; image: string; managers: object[] }> = {},
): LiveDeployment {
  return {
    metadata: {
      name: 'hello-rel-1',
      labels,
      managedFields: over.managers ?? [
        { manager: 'cairn', operation: 'Apply', fieldsV1: { 'f:spec': {} } },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } } },
        },
        { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', fieldsV1: {} },
      ],
    },
    spec: {
      replicas: over.replicas ?? 2,
      template: { spec: { containers: [{ image: over.image ?? `reg/cairn/hello@${DIGEST}` }] } },
    },
  };
}

describe('judging cairn-owned workloads against what should serve', () => {
  const expected = { replicas: 2, imageDigest: DIGEST };

  it('a Deployment as cairn applied it, with the controllers’ bookkeeping, is in sync', () => {
    expect(judgeDeployment(deployment(), expected)).toBeUndefined();
  });

  it('kubectl scale and set image are reported with the field manager that did it', () => {
    const scaled = deployment({
      replicas: 5,
      managers: [{ manager: 'kubectl', operation: 'Update', subresource: 'scale', fieldsV1: {} }],
    });
    expect(judgeDeployment(scaled, expected)?.reasons).toEqual(['spec.replicas: 2 → 5 (by kubectl (scale))']);
    const swapped = deployment({
      image: 'reg/other:latest',
      managers: [{ manager: 'kubectl-set', operation: 'Update', fieldsV1: { 'f:spec': {} } }],
    });
    const f = judgeDeployment(swapped, expected);
    expect(f?.reasons[0]).toBe(`image: …@${DIGEST} → reg/other:latest (by kubectl-set)`);
    expect(f?.repair).toBe('reapply');
  });

  it('a field only another manager set (kubectl edit) is drift even when replicas and image match', () => {
    const edited = deployment({
      managers: [{ manager: 'kubectl-edit', operation: 'Update', fieldsV1: { 'f:spec': {} } }],
    });
    expect(judgeDeployment(edited, expected)?.reasons).toEqual([
      'fields changed by kubectl-edit (kubectl edit/patch?)',
    ]);
  });

  it('a Deployment of a release that does not serve, and a pod no ReplicaSet owns, are to be deleted', () => {
    const found = judgeWorkloads(
      [deployment()],
      [
        { metadata: { name: 'extra', labels } },
        { metadata: { name: 'owned', labels, ownerReferences: [{ kind: 'ReplicaSet' }] } },
      ],
      new Map(),
    );
    expect(found.map((f) => [f.object, f.repair])).toEqual([
      ['Deployment/hello-rel-1', 'delete'],
      ['Pod/extra', 'delete'],
    ]);
    expect(judgePod({ metadata: { name: 'p', ownerReferences: [{ kind: 'ReplicaSet' }] } })).toBeUndefined();
  });
});

describe('the door and the network paths as objects', () => {
  it('the allow-list keys each admitted digest and names the policies that held', () => {
    const cm = admittedManifest('ns', [
      { digest: DIGEST, releaseId: 'rel-1', service: 'hello', policies: ['a', 'b'] },
    ]);
    expect(cm.data).toEqual({ [`sha256.${'a'.repeat(64)}`]: 'release=rel-1 service=hello policies=,a,b,' });
  });

  it('the gates policy denies through the apiserver, with the allow-list as params that must exist', () => {
    const [vap, binding] = gatesManifests('ns', 'prod');
    expect(vap!.metadata.name).toBe('cairn-gates.ns');
    expect(binding!.spec).toMatchObject({
      validationActions: ['Deny'],
      paramRef: { name: 'cairn-admitted', namespace: 'ns', parameterNotFoundAction: 'Deny' },
      matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ns' } } },
    });
  });

  it('a policy for some services only binds their pods, with its own message and a quoted name', () => {
    const [vap] = policyManifests('ns', 'prod', { name: "it's", message: 'm', services: ['hello'] });
    const spec = vap!.spec as { matchConditions: Array<{ expression: string }>; validations: object[] };
    expect(vap!.metadata.name).toBe('cairn-policy.ns.it-s');
    expect(spec.matchConditions[0]!.expression).toContain("in ['hello']");
    expect(JSON.stringify(spec.validations)).toContain(",it\\\\'s,");
  });

  it('pods accept only from the gateway, the nodes and their callers; egress only what is listed', () => {
    const np = networkPolicyManifest({
      service: 'hello',
      env: 'k8s',
      namespace: 'ns',
      port: 8080,
      allow: [{ service: 'api', port: 9000 }],
      callers: ['web'],
      egress: ['127.0.0.1:5432'],
      nodeCidrs: ['10.0.0.5/32'],
    });
    const spec = np.spec as { ingress: Array<{ from: object[] }>; egress: Array<{ ports: object[] }> };
    expect(spec.ingress[0]!.from).toHaveLength(3);
    expect(spec.egress.map((e) => e.ports)).toEqual([
      [{ protocol: 'TCP', port: 9000 }],
      [{ protocol: 'TCP', port: 5432 }],
    ]);
  });
});

describe('judgeDoor (the watch of cairn up and cairn drift alike)', () => {
  const binding = gatesManifests('ns', 'k8s').find((m) => m.kind === 'ValidatingAdmissionPolicyBinding')!;
  const key = `ValidatingAdmissionPolicyBinding/${String(binding.metadata.name)}`;
  const ours = { metadata: { managedFields: [{ manager: 'cairn', operation: 'Apply' }] } };

  it('a deleted door object is applied again; one another manager changed is restored; as applied is in sync', () => {
    expect(judgeDoor(key, undefined, binding, 'cairn-admitted')).toEqual({
      finding: { object: key, service: '', release: '', reasons: ['deleted'], repair: 'reapply' },
      repair: { kind: 'apply', object: binding },
    });
    const edited = {
      metadata: {
        managedFields: [...ours.metadata.managedFields, { manager: 'kubectl-edit', operation: 'Update' }],
      },
    };
    const verdict = judgeDoor(key, edited, binding, 'cairn-admitted');
    expect(verdict).toMatchObject({
      finding: { reasons: ['fields changed by kubectl-edit'] },
      repair: { kind: 'restore' },
    });
    expect(judgeDoor(key, ours, binding, 'cairn-admitted')).toBe('in-sync');
    // Not cairn's to judge: nothing says what it should be.
    expect(judgeDoor(key, undefined, undefined, 'cairn-admitted')).toBeUndefined();
  });

  it('the allow-list: keys someone else wrote are dropped; a deleted list is written again', () => {
    const slipped = {
      metadata: {
        managedFields: [
          { manager: 'cairn', operation: 'Update', fieldsV1: { 'f:data': { 'f:sha256.aa': {} } } },
          { manager: 'kubectl-patch', operation: 'Update', fieldsV1: { 'f:data': { 'f:sha256.bb': {} } } },
        ],
      },
    };
    expect(judgeDoor('ConfigMap/cairn-admitted', slipped, undefined, 'cairn-admitted')).toMatchObject({
      finding: { reasons: ['sha256.bb: written by kubectl-patch'] },
      repair: { kind: 'allow-list', foreign: ['sha256.bb'] },
    });
    expect(judgeDoor('ConfigMap/cairn-admitted', undefined, undefined, 'cairn-admitted')).toMatchObject({
      finding: { reasons: ['the allow-list was deleted'] },
      repair: { kind: 'allow-list', foreign: [] },
    });
  });
});
