/**
 * `cairn drift` for a Kubernetes environment: reads the environment's Deployments and pods from
 * the cluster and judges them against what the state store says should serve there. Works with or
 * without `cairn up` (which also watches and repairs; this only reports).
 */
import type { ReleaseRecord, ServingRecord } from '../state/index.js';
import { Cluster, type ClusterConfig } from './cluster.js';
import { LABEL } from './manifests.js';
import { judgeWorkloads, type LiveDeployment, type LivePod, type WorkloadFinding } from './workload-drift.js';

export interface ClusterDriftInput extends ClusterConfig {
  serving: ServingRecord[];
  release: (id: string) => ReleaseRecord | undefined;
}

/** Every difference between the cluster and the state store for one environment. */
export async function checkClusterDrift(input: ClusterDriftInput): Promise<WorkloadFinding[]> {
  const cluster = await Cluster.open(input);
  const selector = `${LABEL.env}=${input.env}`;
  const deployments = (await cluster.list('apps/v1', 'Deployment', selector)) as LiveDeployment[];
  const pods = (await cluster.list('v1', 'Pod', selector)) as LivePod[];
  const expected = new Map<string, { replicas: number; imageDigest: string }>();
  for (const s of input.serving) {
    for (const [id, replicas] of Object.entries(s.replicas)) {
      const release = input.release(id);
      if (release) expected.set(id, { replicas, imageDigest: release.imageDigest });
    }
  }
  return judgeWorkloads(deployments, pods, expected);
}

/** One line per finding, then its reasons, indented. */
export function renderClusterDrift(env: string, findings: WorkloadFinding[]): string {
  if (findings.length === 0) return `${env}: the cluster's objects are as cairn made them\n`;
  return findings
    .map(
      (f) =>
        `${env}: ${f.object} drifted (${f.service || '?'} ${f.release || '?'}), cairn up ${f.repair === 'delete' ? 'deletes it' : 're-applies it'}\n` +
        f.reasons.map((r) => `  - ${r}\n`).join(''),
    )
    .join('');
}
