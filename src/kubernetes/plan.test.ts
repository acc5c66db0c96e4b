import { describe, expect, it } from 'vitest';
import { type ClusterPlanInput, clusterChanges, type LiveObjects, planClusterObjects } from './plan.js';
import { renderClusterPlan } from './plan-render.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const pin = (version: string) => ({ name: 'API_TOKEN', version, digest: 'hmac-sha256:abc' });
const input = (over: Partial<ClusterPlanInput> = {}): ClusterPlanInput => ({
  env: 'prod',
  namespace: 'hello-prod',
  policies: ['non-root'],
  services: [
    {
      service: 'hello',
      desired: { releaseId: 'rel-aaaaaaaaaaaa', imageDigest: D1, secrets: [pin('v1')] },
      changed: true,
      serving: [],
      scaleDownDelayMs: 30_000,
    },
  ],
  ...over,
});
const live = (existing: string[], over: Partial<LiveObjects> = {}): LiveObjects => ({
  existing: new Set(existing),
  differs: new Map(),
  admitted: new Set(),
  policyObjects: [],
  ...over,
});
const rows = (i: ClusterPlanInput) =>
  planClusterObjects(i).objects.map((o) => `${o.action} ${o.kind}/${o.name}`);

const DOOR_V1 = [
  'Namespace/hello-prod',
  'ValidatingAdmissionPolicy/cairn-gates.hello-prod',
  'ValidatingAdmissionPolicyBinding/cairn-gates.hello-prod',
  'ValidatingAdmissionPolicy/cairn-policy.hello-prod.non-root',
  'ValidatingAdmissionPolicyBinding/cairn-policy.hello-prod.non-root',
  'NetworkPolicy/cairn-hello',
  'ConfigMap/cairn-admitted',
];

describe('planClusterObjects', () => {
  it('before the first deploy, with no cluster to ask, creates every object from the spec', () => {
    const plan = planClusterObjects(input({ unreachable: 'econnrefused' }));
    expect(plan.reachable).toBe(false);
    expect(plan.objects.map((o) => `${o.action} ${o.kind}/${o.name}`)).toEqual([
      ...DOOR_V1.slice(0, 6).map((o) => `create ${o}`),
      'create ConfigMap/cairn-admitted',
      'create Deployment/hello-rel-aaaaaaaaaaaa',
      'create Secret/cairn-api-token-v1',
    ]);
    expect(renderClusterPlan(plan)).toContain('the cluster is not reachable: econnrefused');
  });

  it('after the deploy, with the live objects as cairn wrote them, has no changes', () => {
    const served = input();
    served.services[0]!.changed = false;
    served.services[0]!.serving = [{ releaseId: 'rel-aaaaaaaaaaaa', secrets: [pin('v1')] }];
    const l = live([...DOOR_V1, 'Deployment/hello-rel-aaaaaaaaaaaa', 'Secret/cairn-api-token-v1'], {
      admitted: new Set([D1.replace(':', '.')]),
    });
    const plan = planClusterObjects({ ...served, live: l });
    expect(plan.objects.every((o) => o.action === 'unchanged')).toBe(true);
    expect(clusterChanges(plan)).toBe(0);
    expect(renderClusterPlan(plan)).toContain('No changes to cluster objects.');
  });

  it('a new release is a new Deployment; the serving one and its Secret are deleted later, never changed', () => {
    const next = input();
    next.services[0]!.desired = { releaseId: 'rel-bbbbbbbbbbbb', imageDigest: D2, secrets: [pin('v2')] };
    next.services[0]!.serving = [{ releaseId: 'rel-aaaaaaaaaaaa', secrets: [pin('v1')] }];
    const l = live([...DOOR_V1, 'Deployment/hello-rel-aaaaaaaaaaaa', 'Secret/cairn-api-token-v1'], {
      admitted: new Set([D1.replace(':', '.')]),
    });
    const r = rows({ ...next, live: l });
    expect(r).toContain('create Deployment/hello-rel-bbbbbbbbbbbb');
    expect(r).toContain('delete-later Deployment/hello-rel-aaaaaaaaaaaa');
    expect(r).toContain('create Secret/cairn-api-token-v2');
    expect(r).toContain('delete-later Secret/cairn-api-token-v1');
    expect(r).toContain('replace ConfigMap/cairn-admitted');
    expect(r.filter((x) => x.includes('hello-rel-aaaaaaaaaaaa'))).toEqual([
      'delete-later Deployment/hello-rel-aaaaaaaaaaaa',
    ]);
    const text = renderClusterPlan(planClusterObjects({ ...next, live: l }));
    expect(text).toMatch(
      /^ {2}- {3}Deployment hello-rel-aaaaaaaaaaaa \(hello\) will be deleted later: .*30 s/m,
    );
    expect(text).toContain('Running releases are never changed in place');
  });

  it('a configuration file is an immutable ConfigMap by digest: a new content is created, the old one deleted later', () => {
    const F1 = `sha256:${'a'.repeat(64)}`;
    const F2 = `sha256:${'b'.repeat(64)}`;
    const next = input();
    next.services[0]!.desired = {
      releaseId: 'rel-bbbbbbbbbbbb',
      imageDigest: D1,
      secrets: [pin('v1')],
      files: { '/etc/hello/env.json': F2 },
    };
    next.services[0]!.serving = [
      { releaseId: 'rel-aaaaaaaaaaaa', secrets: [pin('v1')], files: { '/etc/hello/env.json': F1 } },
    ];
    const existing = [...DOOR_V1, 'Deployment/hello-rel-aaaaaaaaaaaa', 'Secret/cairn-api-token-v1'];
    const l = live([...existing, `ConfigMap/cairn-file-${'a'.repeat(64)}`], {
      admitted: new Set([D1.replace(':', '.')]),
    });
    const r = rows({ ...next, live: l });
    expect(r).toContain(`create ConfigMap/cairn-file-${'b'.repeat(64)}`);
    expect(r).toContain(`delete-later ConfigMap/cairn-file-${'a'.repeat(64)}`);
    expect(r).toContain('unchanged Secret/cairn-api-token-v1');
    // Deployed: the ConfigMap is there and nothing is left to do.
    const served = input();
    served.services[0]!.changed = false;
    served.services[0]!.desired = next.services[0]!.desired;
    served.services[0]!.serving = [
      { releaseId: 'rel-bbbbbbbbbbbb', secrets: [pin('v1')], files: { '/x': F2 } },
    ];
    const after = live(
      [
        ...DOOR_V1,
        'Deployment/hello-rel-bbbbbbbbbbbb',
        'Secret/cairn-api-token-v1',
        `ConfigMap/cairn-file-${'b'.repeat(64)}`,
      ],
      { admitted: new Set([D1.replace(':', '.')]) },
    );
    expect(clusterChanges(planClusterObjects({ ...served, live: after }))).toBe(0);
  });

  it('a door object a dry-run apply would change is written again; a stale policy is deleted', () => {
    const served = input();
    served.services[0]!.changed = false;
    served.services[0]!.serving = [{ releaseId: 'rel-aaaaaaaaaaaa', secrets: [pin('v1')] }];
    const stale = 'ValidatingAdmissionPolicy/cairn-policy.hello-prod.old';
    const l = live([...DOOR_V1, stale, 'Deployment/hello-rel-aaaaaaaaaaaa', 'Secret/cairn-api-token-v1'], {
      admitted: new Set([D1.replace(':', '.')]),
      differs: new Map([['NetworkPolicy/cairn-hello', 'a dry-run apply changes spec.ingress']]),
      policyObjects: [stale, 'ValidatingAdmissionPolicy/cairn-policy.hello-prod.non-root'],
    });
    const r = rows({ ...served, live: l });
    expect(r).toContain('replace NetworkPolicy/cairn-hello');
    expect(r).toContain('delete ValidatingAdmissionPolicy/cairn-policy.hello-prod.old');
    expect(r).not.toContain('delete ValidatingAdmissionPolicy/cairn-policy.hello-prod.non-root');
    expect(r).toContain('unchanged Deployment/hello-rel-aaaaaaaaaaaa');
  });

  it('without a built image the new Deployment is named after build; a missing live Deployment is created again', () => {
    const unbuilt = input();
    delete unbuilt.services[0]!.desired;
    expect(rows(unbuilt)).toContain('create Deployment/hello-rel-…');
    const served = input();
    served.services[0]!.changed = false;
    served.services[0]!.serving = [{ releaseId: 'rel-aaaaaaaaaaaa', secrets: [] }];
    expect(rows({ ...served, live: live(DOOR_V1, { admitted: new Set([D1.replace(':', '.')]) }) })).toContain(
      'create Deployment/hello-rel-aaaaaaaaaaaa',
    );
  });
});

describe('changedPaths', () => {
  it('ignores what the apiserver writes itself and names what an apply would change', async () => {
    const { changedPaths } = await import('./plan-live.js');
    const liveObject = {
      kind: 'NetworkPolicy',
      metadata: { name: 'cairn-hello', resourceVersion: '5', managedFields: [{ manager: 'cairn' }] },
      spec: { policyTypes: ['Ingress', 'Egress'], ingress: [{ ports: [{ port: 8080 }] }] },
      status: {},
    };
    const same = {
      ...liveObject,
      metadata: { ...liveObject.metadata, resourceVersion: '6', managedFields: [] },
    };
    expect(changedPaths(liveObject, same)).toEqual([]);
    const other = { ...same, spec: { ...same.spec, ingress: [{ ports: [{ port: 9090 }] }] } };
    expect(changedPaths(liveObject, other)).toEqual(['spec.ingress']);
  });

  it("lists the in-cluster gateway's objects, created when the cluster lacks them, and names its namespace", () => {
    const gw = input({ gatewayNamespace: 'hello-prod-gw', live: live([...DOOR_V1, 'Role/cairn-gateway']) });
    const r = rows(gw);
    expect(r).toEqual(
      expect.arrayContaining([
        'create Namespace/hello-prod-gw',
        'create ServiceAccount/cairn-gateway',
        'unchanged Role/cairn-gateway',
        'create RoleBinding/cairn-gateway',
        'create DaemonSet/cairn-gateway',
        'create ConfigMap/cairn-gateway',
      ]),
    );
    expect(renderClusterPlan(planClusterObjects(gw))).toContain(
      'Kubernetes objects in environment prod (namespace hello-prod, its gateway in namespace hello-prod-gw):',
    );
    expect(rows(input()).filter((x) => x.includes('cairn-gateway') || x.includes('-gw'))).toEqual([]);
  });
});
