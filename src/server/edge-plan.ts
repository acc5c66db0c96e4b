/**
 * What applying cairn.yaml's edge — routes and their policies, each environment's gateway — would
 * change in the running gateways. Pure. Routes change in place (the listener stays open); a new
 * environment gets a gateway; an environment that left the spec loses its gateway once nothing
 * runs there; a gateway's address, engine or pin header cannot change under running traffic.
 */
import { canonicalJson, sha256Hex } from '../lib/index.js';

/** A route as the plan shows and compares it: no key material, a digest of it instead. */
export interface RouteView {
  host: string;
  path: string;
  service: string;
  /** rate limit, body limit, timeout, auth (issuer, audience, keys digest): what the edge enforces. */
  policies: Record<string, unknown>;
}

/** One environment's edge: its gateway's listener and its routes. */
export interface EdgeView {
  listen: string;
  engine: string;
  pinHeader: boolean;
  routes: RouteView[];
}

export type EdgeChange =
  | { action: 'create'; env: string; what: 'gateway'; listen: string }
  | { action: 'destroy'; env: string; what: 'gateway'; listen: string }
  | { action: 'create' | 'destroy'; env: string; what: 'route'; route: RouteView }
  | { action: 'replace'; env: string; what: 'route'; before: RouteView; route: RouteView };

/** A change that cannot be applied to a running gateway, with what to do instead. */
export interface EdgeRefusal {
  env: string;
  message: string;
  hint: string;
}

export interface EdgePlan {
  changes: EdgeChange[];
  refusals: EdgeRefusal[];
}

/** The edge view of a route with its policies; key material becomes a digest. */
export function routeView(route: {
  host: string;
  path: string;
  service: string;
  rateLimit?: unknown;
  maxBodyBytes?: number;
  timeoutMs?: number;
  auth?: { jwks?: unknown; secret?: Uint8Array; issuer?: string; audience?: string };
}): RouteView {
  const policies: Record<string, unknown> = {};
  if (route.rateLimit) policies.rateLimit = route.rateLimit;
  if (route.maxBodyBytes !== undefined) policies.maxBodyBytes = route.maxBodyBytes;
  if (route.timeoutMs !== undefined) policies.timeoutMs = route.timeoutMs;
  if (route.auth) {
    const { jwks, secret, issuer, audience } = route.auth;
    const keys = canonicalJson({ jwks, secret: secret ? Buffer.from(secret).toString('base64') : undefined });
    policies.auth = {
      ...(issuer ? { issuer } : {}),
      ...(audience ? { audience } : {}),
      keys: `sha256:${sha256Hex(keys).slice(0, 12)}`,
    };
  }
  return { host: route.host, path: route.path, service: route.service, policies };
}

/** `busy(env)`: something still runs in an environment the spec dropped. */
export function planEdge(
  running: Record<string, EdgeView>,
  desired: Record<string, EdgeView>,
  busy: (env: string) => boolean,
): EdgePlan {
  const changes: EdgeChange[] = [];
  const refusals: EdgeRefusal[] = [];
  for (const [env, want] of Object.entries(desired)) {
    const now = running[env];
    if (!now) {
      changes.push({ action: 'create', env, what: 'gateway', listen: want.listen });
      for (const route of want.routes) changes.push({ action: 'create', env, what: 'route', route });
      continue;
    }
    const moved = (['listen', 'engine', 'pinHeader'] as const).filter((k) => now[k] !== want[k]);
    if (moved.length > 0) {
      refusals.push({
        env,
        message: `the ${env} gateway's ${moved.join(', ')} changed (${moved.map((k) => `${now[k]} → ${want[k]}`).join(', ')}): a running listener cannot move`,
        hint: 'restart the control plane to take it (`cairn down --keep-instances`, then `cairn up --detach`)',
      });
    }
    changes.push(...routeChanges(env, now.routes, want.routes));
  }
  for (const [env, now] of Object.entries(running)) {
    if (desired[env]) continue;
    if (busy(env)) {
      refusals.push({
        env,
        message: `environment ${env} left cairn.yaml but instances still run there`,
        hint: `keep it in cairn.yaml until nothing runs there, or stop them first`,
      });
    } else changes.push({ action: 'destroy', env, what: 'gateway', listen: now.listen });
  }
  return { changes, refusals };
}

/** Routes are matched by host and path: the same pair with other settings is a replacement. */
function routeChanges(env: string, now: RouteView[], want: RouteView[]): EdgeChange[] {
  const key = (r: RouteView) => `${r.host} ${r.path}`;
  const before = new Map(now.map((r) => [key(r), r]));
  const changes: EdgeChange[] = [];
  for (const route of want) {
    const old = before.get(key(route));
    before.delete(key(route));
    if (!old) changes.push({ action: 'create', env, what: 'route', route });
    else if (canonicalJson(old) !== canonicalJson(route))
      changes.push({ action: 'replace', env, what: 'route', before: old, route });
  }
  for (const route of before.values()) changes.push({ action: 'destroy', env, what: 'route', route });
  return changes;
}

const SYMBOL = { create: '+', destroy: '-', replace: '-/+' } as const;

/** The plan in Terraform's vocabulary, one line per change. */
export function renderEdgePlan(plan: EdgePlan): string {
  const lines = plan.changes.map((c) => {
    const sym = SYMBOL[c.action].padEnd(3);
    if (c.what === 'gateway') return `  ${sym} gateway (${c.env}) on ${c.listen}`;
    const r = c.route;
    const policies = Object.keys(r.policies).length > 0 ? ` ${JSON.stringify(r.policies)}` : '';
    return `  ${sym} route (${c.env}) ${r.host}${r.path} → ${r.service}${policies}`;
  });
  for (const r of plan.refusals) lines.push(`  !   ${r.message}\n      hint: ${r.hint}`);
  if (lines.length === 0) return 'No edge changes. The gateways serve what cairn.yaml says.\n';
  return `${lines.join('\n')}\n`;
}
