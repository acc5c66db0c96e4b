/**
 * `cairn drift` for a Kubernetes environment: reads the environment's Deployments, pods and door
 * objects from the cluster and judges them against what the state store says should serve there.
 * Works with or without `cairn up`. Deployments and pods are only reported (`cairn up` repairs
 * them from its watches); the door is put back now, as the watch does, since until then a deleted
 * Binding lets pods in unchecked.
 */
import type { ReleaseRecord, ServingRecord } from '../state/index.js';
import { Cluster, type ClusterConfig } from './cluster.js';
import { checkDoor, type DoorDriftInput, type DoorFinding } from './door-drift.js';
import { LABEL } from './manifests.js';
import { judgeWorkloads, type LiveDeployment, type LivePod } from './workload-drift.js';

export interface ClusterDriftInput extends ClusterConfig, Omit<DoorDriftInput, 'env' | 'serving'> {
  serving: ServingRecord[];
  release: (id: string) => ReleaseRecord | undefined;
}

/** Every difference between the cluster and the state store for one environment (the door's repaired). */
export async function checkClusterDrift(input: ClusterDriftInput): Promise<DoorFinding[]> {
  const cluster = await Cluster.open(input);
  const selector = `${LABEL.env}=${input.env}`;
  const deployments = (await cluster.list('apps/v1', 'Deployment', selector)) as LiveDeployment[];
  const pods = (await cluster.list('v1', 'Pod', selector)) as LivePod[];
  const expected = new Map<string, { replicas: number; imageDigest: string }>();
  const serving: ReleaseRecord[] = [];
  for (const s of input.serving) {
    for (const [id, replicas] of Object.entries(s.replicas)) {
      const release = input.release(id);
      if (!release) continue;
      expected.set(id, { replicas, imageDigest: release.imageDigest });
      if (replicas > 0) serving.push(release);
    }
  }
  const gatewayNamespace = input.target.gatewayNamespace;
  const door = await checkDoor(cluster, {
    ...input,
    serving,
    ...(gatewayNamespace ? { gatewayNamespace } : {}),
  });
  return [...judgeWorkloads(deployments, pods, expected), ...door];
}

/** One line per finding, then its reasons, indented. */
export function renderClusterDrift(env: string, findings: DoorFinding[]): string {
  if (findings.length === 0) return `${env}: the cluster's objects are as cairn made them\n`;
  return findings
    .map((f) => `${env}: ${headline(f)}\n${f.reasons.map((r) => `  - ${r}\n`).join('')}`)
    .join('');
}

function headline(f: DoorFinding): string {
  if (f.repairMs !== undefined) return `${f.object} drifted, put back (${f.repairMs} ms)`;
  if (f.left !== undefined) return `${f.object} drifted, ${f.left}`;
  const what = f.service || f.release ? ` (${f.service || '?'} ${f.release || '?'})` : '';
  return `${f.object} drifted${what}, cairn up ${f.repair === 'delete' ? 'deletes it' : 're-applies it'}`;
}
