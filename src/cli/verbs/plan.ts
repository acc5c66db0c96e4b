import { existsSync } from 'node:fs';
import { sourceDigest } from '../../artifact/index.js';
import { identityKeyPath, keyedDigest, readIdentityKey } from '../../drift/index.js';
import { identityPlan, renderIdentityPlan } from '../../identity/index.js';
import { type ClusterPlan, clusterChanges, renderClusterPlan } from '../../kubernetes/index.js';
import { CairnError } from '../../lib/index.js';
import {
  type CurrentService,
  type DesiredService,
  type Plan,
  planChanges,
  renderPlan,
} from '../../rollout/index.js';
import { isPin, normalizeRef, openSecretResolver, type SecretPin } from '../../secrets/index.js';
import {
  configFileDigests,
  findSpecFile,
  type LoadedSpec,
  loadSpec,
  readConfigFiles,
  releaseConfig,
  type SecretRef,
} from '../../spec/index.js';
import {
  openStateStore,
  type StateReader,
  type Workspace,
  workspaceExists,
  workspaceFor,
} from '../../state/index.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';
import { EXIT_CHANGES, EXIT_OK } from '../errors.js';
import { planClusters } from '../plan-kubernetes.js';

export const command: Command = {
  name: 'plan',
  summary: 'Show what would change: + create, -/+ replace, - destroy (never an in-place update).',
  usage: 'cairn plan [--env ENV] [-f FILE] [--detailed-exitcode] [--output json]',
  description: `Compares cairn.yaml with what runs in each environment (or only --env): each service's
settings, and the digest of its build inputs (files, lockfile, build settings — computed without
building) against the one its serving release recorded. A changed service is always replaced by a
new release; nothing is changed in place. An unchanged clean tree plans no changes.
With \`identity:\` in the spec, it also shows who may call whom (run.network.allow) by SPIFFE ID.
For an environment in a Kubernetes cluster it lists, per service, the objects a deploy would
create (the new release's Deployment by name, the Secret of each pinned version, the ConfigMap of
each configuration file, the namespace, allow-list, admission policies and NetworkPolicy when
missing or different), those deleted later (the previous release's Deployment after the
scale-down delay, Secrets and configuration-file ConfigMaps no release pins) and those
that exist unchanged. It reads the cluster (GETs and server-side dry-run applies; nothing is
written); a cluster that does not answer is said in the plan, not an error.
Exit codes: 0 success; with --detailed-exitcode, 0 no changes, 2 changes present; 1 error.`,
  options: {
    file: FILE_OPTION,
    env: { type: 'string', short: 'e', value: 'ENV', description: 'Plan only this environment.' },
    'detailed-exitcode': { type: 'boolean', description: 'Exit 2 when changes are present.' },
    output: OUTPUT_OPTION,
  },
  async run(ctx) {
    const loaded = loadSpec(findSpecFile(ctx.options.file as string | undefined, ctx.cwd));
    const envs = selectEnvs(loaded, ctx.options.env as string | undefined, command.usage);
    const ws = workspaceFor(loaded.file, ctx.env);
    const hasState = workspaceExists(ws);
    const store = hasState ? openStateStore(ws) : undefined;
    let plan: Plan;
    let clusters: ClusterPlan[];
    try {
      const current = store ? currentServices(store, envs) : [];
      plan = planChanges(current, await desiredServices(loaded, envs, ws));
      clusters = await planClusters(loaded, envs, ws, store, plan.items);
    } finally {
      store?.close();
    }
    const identity = identityPlan(loaded.spec);
    if (ctx.output === 'json') {
      const doc = {
        spec: loaded.file,
        environments: envs,
        ...plan,
        ...(identity ? { identity } : {}),
        ...(clusters.length > 0 ? { kubernetes: clusters } : {}),
      };
      ctx.stdout(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      ctx.stdout(`cairn plan: ${loaded.file}, environment(s) ${envs.join(', ')}\n`);
      if (!hasState)
        ctx.stdout('  (no workspace yet: nothing runs, so everything is new; `cairn init` creates one)\n');
      ctx.stdout(`\n${renderPlan(plan)}`);
      if (identity) ctx.stdout(`\n${renderIdentityPlan(identity)}`);
      for (const c of clusters) ctx.stdout(`\n${renderClusterPlan(c)}`);
    }
    const changes = plan.items.length + clusters.reduce((n, c) => n + clusterChanges(c), 0);
    return ctx.options['detailed-exitcode'] && changes > 0 ? EXIT_CHANGES : EXIT_OK;
  },
};

function selectEnvs(loaded: LoadedSpec, env: string | undefined, usage: string): string[] {
  const all = Object.keys(loaded.spec.environments);
  if (env === undefined) return all;
  if (!all.includes(env))
    throw new UsageError(
      `planning environment ${env}: cairn.yaml has no such environment (it has ${all.join(', ')})`,
      usage,
    );
  return [env];
}

async function desiredServices(loaded: LoadedSpec, envs: string[], ws: Workspace): Promise<DesiredService[]> {
  const { spec } = loaded;
  const pins = await secretViews(ws);
  const sources = await buildInputDigests(loaded);
  return envs.flatMap((env) =>
    Object.entries(spec.services).map(([name, s]) => {
      const files = configFileDigests(readConfigFiles(loaded, name, env));
      const config = releaseConfig(spec, name, env, files);
      const source = sources.get(name);
      return {
        env,
        service: name,
        ...(source ? { sourceDigest: source } : {}),
        config: { ...config, run: { ...config.run, secrets: s.run.secrets.map(pins) } },
        replicas: s.run.replicas,
        strategy: s.deploy.strategy,
      };
    }),
  );
}

/**
 * Each service's build-inputs digest, computed as a deploy records it (application files, baked
 * files, lockfile, build settings) without building. A service whose inputs cannot be read (a
 * missing context) has none: the plan says "known after build" for it.
 */
async function buildInputDigests(loaded: LoadedSpec): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of Object.keys(loaded.spec.services)) {
    try {
      out.set(name, await sourceDigest(loaded, name));
    } catch (error) {
      if (!(error instanceof CairnError)) throw error;
    }
  }
  return out;
}

/**
 * A secret as the plan shows it: the reference and the version a deploy would pin now (with a
 * short keyed hash for resolvers without versions), never a value; the same view of a release's pins.
 */
type SecretView = (ref: SecretRef | string) => Record<string, unknown>;

async function secretViews(ws: Workspace): Promise<SecretView> {
  const keyFile = identityKeyPath(ws.bundles);
  if (!existsSync(keyFile)) return (ref) => ({ ...normalizeRef(ref) });
  const key = await readIdentityKey(keyFile);
  const resolver = openSecretResolver(ws);
  return (ref) => {
    if (isPin(ref)) return pinView(ref);
    const normal = normalizeRef(ref);
    const found = resolver.current(normal.name);
    if (!found) return { ...normal, version: '(no value: cairn secret set)' };
    return pinView({ ...normal, version: found.version, digest: keyedDigest(key, found.value) });
  };
}

function pinView({ digest, ...pin }: SecretPin): Record<string, unknown> {
  return {
    ...pin,
    version: /^v[0-9]+$/.test(pin.version) ? pin.version : `${pin.version} ${digest.slice(12, 24)}`,
  };
}

/** A release's config with its secret pins in the plan's view. */
function currentConfig(config: Record<string, unknown>): Record<string, unknown> {
  const run = config.run as { secrets?: unknown[] } | undefined;
  if (!run?.secrets) return config;
  const view = run.secrets.map((s) => (isPin(s) ? pinView(s) : { ...normalizeRef(s as string) }));
  return { ...config, run: { ...run, secrets: view } };
}

function currentServices(store: StateReader, envs: string[]): CurrentService[] {
  return envs.flatMap((env) =>
    store.listTargets(env).flatMap((t) => {
      const release = store.getRelease(t.releaseId);
      if (!release) return [];
      const instances = store.listInstances({
        env,
        service: t.service,
        releaseId: t.releaseId,
        live: true,
      }).length;
      return [
        {
          env,
          service: t.service,
          releaseId: release.id,
          imageDigest: release.imageDigest,
          config: currentConfig(release.config),
          sourceDigest: release.sourceDigest,
          instances,
        },
      ];
    }),
  );
}
