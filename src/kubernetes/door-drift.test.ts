import { describe, expect, it } from 'vitest';
import type { ReleaseRecord } from '../state/index.js';
import { ADMITTED_CONFIGMAP } from './admission.js';
import type { Cluster } from './cluster.js';
import { checkDoor, type DoorDriftInput } from './door-drift.js';
import type { Manifest } from './manifests.js';

const release = {
  id: 'rel-1',
  service: 'hello',
  config: { run: { port: 8080 } },
} as unknown as ReleaseRecord;
const cairnOnly = { managedFields: [{ manager: 'cairn', operation: 'Apply', fieldsV1: {} }] };

/** A cluster whose door has the allow-list and the gates VAP, but neither the gates Binding nor the NetworkPolicy. */
function cluster(failApply: (m: Manifest) => boolean) {
  const applied: string[] = [];
  const live = (kind: string) => {
    if (kind === 'ConfigMap') return [{ metadata: { name: ADMITTED_CONFIGMAP, ...cairnOnly } }];
    if (kind === 'ValidatingAdmissionPolicy') return [{ metadata: { name: 'cairn-gates.ns', ...cairnOnly } }];
    return [];
  };
  const fake = {
    namespace: 'ns',
    nodeAddresses: async () => ['10.0.0.1'],
    list: async (_v: string, kind: string) => live(kind),
    apply: async (objects: Manifest[]) => {
      for (const o of objects) {
        if (failApply(o)) throw new Error(`applying ${o.kind} ${String(o.metadata.name)}: forbidden`);
        applied.push(`${o.kind}/${String(o.metadata.name)}`);
      }
    },
  } as unknown as Cluster;
  return { fake, applied };
}

const input: DoorDriftInput = {
  env: 'k8s',
  serving: [release],
  policies: [],
  neighbours: () => ({ allow: [], callers: [] }),
  configFiles: async () => ({}),
  repair: true,
};

describe('cairn drift: the door', () => {
  it('puts back each deleted door object and says how long it took', async () => {
    const { fake, applied } = cluster(() => false);
    const found = await checkDoor(fake, input);
    expect(found.map((f) => [f.object, f.reasons, typeof f.repairMs])).toEqual([
      ['ValidatingAdmissionPolicyBinding/cairn-gates.ns', ['deleted'], 'number'],
      ['NetworkPolicy/cairn-hello', ['deleted'], 'number'],
    ]);
    expect(applied).toEqual(['ValidatingAdmissionPolicyBinding/cairn-gates.ns', 'NetworkPolicy/cairn-hello']);
  });

  it('a repair that fails is said on its finding; the others are still put back and reported', async () => {
    const { fake, applied } = cluster((m) => m.kind === 'ValidatingAdmissionPolicyBinding');
    const found = await checkDoor(fake, input);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatchObject({
      object: 'ValidatingAdmissionPolicyBinding/cairn-gates.ns',
      left: expect.stringMatching(/^not put back \(applying .*forbidden\)/),
    });
    expect(found[0]!.repairMs).toBeUndefined();
    expect(found[1]).toMatchObject({ object: 'NetworkPolicy/cairn-hello', repairMs: expect.any(Number) });
    expect(applied).toEqual(['NetworkPolicy/cairn-hello']);
  });

  it('without repair, it only reports', async () => {
    const { fake, applied } = cluster(() => false);
    const found = await checkDoor(fake, { ...input, repair: false });
    expect(found.map((f) => f.object)).toEqual([
      'ValidatingAdmissionPolicyBinding/cairn-gates.ns',
      'NetworkPolicy/cairn-hello',
    ]);
    expect(applied).toEqual([]);
  });
});
