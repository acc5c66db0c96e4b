/** `cairn plan`'s text for the cluster objects of a Kubernetes environment, in Terraform's vocabulary. Pure. */
import { type ClusterPlan, clusterChanges, type ObjectAction } from './plan.js';

const SYMBOL: Record<ObjectAction, string> = {
  create: '+',
  replace: '-/+',
  delete: '-',
  'delete-later': '-',
  unchanged: ' ',
};
const VERB: Record<ObjectAction, string> = {
  create: 'will be created',
  replace: 'will be written again',
  delete: 'will be deleted',
  'delete-later': 'will be deleted later',
  unchanged: 'exists, unchanged',
};

export function renderClusterPlan(plan: ClusterPlan): string {
  const gateway = plan.gatewayNamespace ? `, its gateway in namespace ${plan.gatewayNamespace}` : '';
  const lines = [`Kubernetes objects in environment ${plan.env} (namespace ${plan.namespace}${gateway}):`];
  if (!plan.reachable)
    lines.push(
      `  (the cluster is not reachable: ${plan.unreachable ?? 'no answer'}; what would be created is computed from cairn.yaml, nothing was compared with live objects)`,
    );
  for (const o of plan.objects) {
    const owner = o.service ? ` (${o.service})` : '';
    const unknown = o.action === 'unchanged' && o.note?.includes('not checked');
    const verb = unknown ? 'kept (not checked)' : VERB[o.action];
    const note = o.note && !unknown ? `: ${o.note}` : '';
    lines.push(`  ${SYMBOL[o.action].padEnd(3)} ${o.kind} ${o.name}${owner} ${verb}${note}`);
  }
  lines.push(
    '  Running releases are never changed in place: a new release gets a Deployment of its own, the previous one is deleted after the scale-down delay.',
  );
  const s = plan.summary;
  lines.push(
    clusterChanges(plan) === 0
      ? '  No changes to cluster objects.'
      : `  Cluster: ${s.create} to create, ${s.replace} to write again, ${s.delete} to delete, ${s['delete-later']} to delete later.`,
  );
  return `${lines.join('\n')}\n`;
}
