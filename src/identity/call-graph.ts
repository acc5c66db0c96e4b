/**
 * Who may call whom, as a reviewer reads it: each service's `run.network.allow` as caller → callee
 * pairs with their SPIFFE IDs. Pure; `cairn plan` prints it when the spec sets `identity:`.
 */
import type { Spec } from '../spec/index.js';
import { identityConfig } from './spiffe-id.js';

/** The identity section of a plan. */
export interface IdentityPlan {
  trustDomain: string;
  svidTtlMs: number;
  /** Sorted by caller, then callee; IDs are shown for `<env>`, the same in every environment. */
  calls: Array<{ caller: string; callee: string }>;
}

export function identityPlan(spec: Spec): IdentityPlan | undefined {
  if (!spec.identity) return undefined;
  const { trustDomain, svidTtlMs } = identityConfig(spec.project, spec.identity);
  const calls = Object.entries(spec.services)
    .flatMap(([caller, s]) => (s.run.network?.allow ?? []).map((callee) => ({ caller, callee })))
    .sort((a, b) => a.caller.localeCompare(b.caller) || a.callee.localeCompare(b.callee));
  return { trustDomain, svidTtlMs, calls };
}

/** The plan's identity section as text. */
export function renderIdentityPlan(plan: IdentityPlan): string {
  const id = (service: string) => `spiffe://${plan.trustDomain}/<env>/${service}`;
  const lines = [
    `identity: trust domain ${plan.trustDomain}, SVIDs live ${Math.round(plan.svidTtlMs / 1000)}s (renewed at half-life)`,
    plan.calls.length === 0
      ? '  calls between services: none allowed (run.network.allow is empty everywhere)'
      : '  calls between services (run.network.allow), authenticated by SPIFFE ID:',
    ...plan.calls.map((c) => `    ${c.caller} → ${c.callee}    ${id(c.caller)} may call ${id(c.callee)}`),
  ];
  return `${lines.join('\n')}\n`;
}
