/** Renders a plan in Terraform's vocabulary: `+` create, `-/+` replace, `-` destroy. Pure. */
import { shortDigest } from '../lib/index.js';
import type { Plan, PlanItem } from './plan.js';

const SYMBOL: Record<PlanItem['action'], string> = { create: '+', replace: '-/+', destroy: '-', scale: '+' };

const show = (v: unknown): string =>
  v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v);
/** A configuration file is shown by a short digest of its content (`sha256:1a2b3c4d5e6f`), never the content. */
const showChange = (path: string, v: unknown): string =>
  path.startsWith('run.files.') && typeof v === 'string' ? `sha256:${shortDigest(v)}` : show(v);

export function renderPlan(plan: Plan): string {
  const lines: string[] = [];
  for (const item of plan.items) {
    const symbol =
      item.action === 'scale'
        ? item.instancesAfter > item.instancesBefore
          ? '+'
          : '-'
        : SYMBOL[item.action];
    lines.push(`  ${symbol.padEnd(3)} ${item.service} (${item.env}) ${describe(item)}`);
    for (const c of item.changes)
      lines.push(`        ${c.path}: ${showChange(c.path, c.before)} → ${showChange(c.path, c.after)}`);
  }
  if (plan.items.length === 0) return 'No changes. What runs matches cairn.yaml.\n';
  const s = plan.summary;
  const parts = [`${s.create} to create`, `${s.replace} to replace`, `${s.destroy} to destroy`];
  if (s.scale) parts.push(`${s.scale} to scale`);
  lines.push('', `Plan: ${parts.join(', ')}.`);
  return `${lines.join('\n')}\n`;
}

function describe(item: PlanItem): string {
  switch (item.action) {
    case 'create':
      return `will be created: ${item.instancesAfter} instance(s), strategy ${item.strategy}`;
    case 'replace':
      return `must be replaced: ${item.instancesBefore} instance(s) of ${item.releaseId} → ${item.instancesAfter} of a new release (${item.strategy})`;
    case 'destroy':
      return `will be destroyed: ${item.instancesBefore} instance(s) of ${item.releaseId} stop`;
    case 'scale':
      return `will be scaled: ${item.instancesBefore} → ${item.instancesAfter} instance(s) of ${item.releaseId}`;
  }
}
