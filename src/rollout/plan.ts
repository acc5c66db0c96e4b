/**
 * What `cairn plan` would change: the desired services of an environment against what runs there.
 * Pure. In cairn nothing is updated in place, so every difference is a create, a replace (new
 * release, new instances, old ones stopped) or a destroy — Terraform's `+`, `-/+` and `-`.
 */
import { canonicalJson } from '../lib/index.js';

export interface DesiredService {
  env: string;
  service: string;
  /** The rendered settings that define a release (build + run). */
  config: Record<string, unknown>;
  /** Digest of the build inputs, when computed; undefined means "known after build". */
  sourceDigest?: string;
  replicas: number;
  strategy: string;
}

export interface CurrentService {
  env: string;
  service: string;
  releaseId: string;
  imageDigest: string;
  config: Record<string, unknown>;
  sourceDigest?: string;
  /** Instances of this release that run now. */
  instances: number;
}

export type PlanAction = 'create' | 'replace' | 'destroy' | 'scale';

export interface Change {
  path: string;
  before?: unknown;
  after?: unknown;
}

export interface PlanItem {
  action: PlanAction;
  env: string;
  service: string;
  /** The release running now (replace, destroy, scale). */
  releaseId?: string;
  instancesBefore: number;
  instancesAfter: number;
  strategy?: string;
  changes: Change[];
}

export interface Plan {
  items: PlanItem[];
  /** Services already as desired. */
  unchanged: string[];
  summary: { create: number; replace: number; destroy: number; scale: number };
}

export function planChanges(current: CurrentService[], desired: DesiredService[]): Plan {
  const key = (s: { env: string; service: string }) => `${s.env}/${s.service}`;
  const now = new Map(current.map((c) => [key(c), c]));
  const items: PlanItem[] = [];
  const unchanged: string[] = [];
  for (const d of desired) {
    const c = now.get(key(d));
    now.delete(key(d));
    const item = c ? compare(c, d) : createItem(d);
    if (item) items.push(item);
    else unchanged.push(key(d));
  }
  for (const c of now.values()) {
    items.push({
      action: 'destroy',
      env: c.env,
      service: c.service,
      releaseId: c.releaseId,
      instancesBefore: c.instances,
      instancesAfter: 0,
      changes: [],
    });
  }
  items.sort((a, b) => key(a).localeCompare(key(b)));
  const summary = { create: 0, replace: 0, destroy: 0, scale: 0 };
  for (const item of items) summary[item.action] += 1;
  return { items, unchanged: unchanged.sort(), summary };
}

function createItem(d: DesiredService): PlanItem {
  return {
    action: 'create',
    env: d.env,
    service: d.service,
    instancesBefore: 0,
    instancesAfter: d.replicas,
    strategy: d.strategy,
    changes: environmentVars(d.config),
  };
}

/**
 * A new service's own variables and configuration files (path → content digest) in this
 * environment: what differs from the other environments.
 */
function environmentVars(config: Record<string, unknown>): Change[] {
  const run = config.run as { env?: Record<string, string>; files?: Record<string, string> } | undefined;
  return [
    ...Object.entries(run?.env ?? {}).map(([name, value]) => ({ path: `run.env.${name}`, after: value })),
    ...Object.entries(run?.files ?? {}).map(([path, digest]) => ({
      path: `run.files.${path}`,
      after: digest,
    })),
  ];
}

function compare(c: CurrentService, d: DesiredService): PlanItem | undefined {
  const before = withoutReplicas(c.config);
  const after = withoutReplicas(d.config);
  const changes = canonicalJson(before) === canonicalJson(after) ? [] : diffValues(before, after);
  if (d.sourceDigest === undefined) {
    changes.push({ path: 'image', before: c.imageDigest, after: '(known after build)' });
  } else if (c.sourceDigest === undefined) {
    // A release deployed from a pulled image records no build inputs: nothing to compare with.
    changes.push({
      path: 'image',
      before: c.imageDigest,
      after: '(unknown: the release records no build inputs)',
    });
  } else if (d.sourceDigest !== c.sourceDigest) {
    changes.push({ path: 'build.sources', before: c.sourceDigest, after: d.sourceDigest });
  }
  const base = { env: d.env, service: d.service, releaseId: c.releaseId, instancesBefore: c.instances };
  if (changes.length > 0) {
    return { ...base, action: 'replace', instancesAfter: d.replicas, strategy: d.strategy, changes };
  }
  if (c.instances !== d.replicas) {
    return {
      ...base,
      action: 'scale',
      instancesAfter: d.replicas,
      changes: [{ path: 'run.replicas', before: c.instances, after: d.replicas }],
    };
  }
  return undefined;
}

/** Replicas change how many instances run, not what a release is. */
function withoutReplicas(config: Record<string, unknown>): Record<string, unknown> {
  const run = config.run as Record<string, unknown> | undefined;
  if (!run) return config;
  const { replicas: _ignored, ...rest } = run;
  return { ...config, run: rest };
}

/** Leaf-by-leaf differences between two plain values, as dotted paths. */
export function diffValues(before: unknown, after: unknown, path = ''): Change[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffValues(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (canonicalJson(before ?? null) === canonicalJson(after ?? null)) return [];
  return [{ path, before, after }];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
