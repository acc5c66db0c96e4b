import { type CurrentService, type DesiredService, planChanges, renderPlan } from '../../rollout/index.js';
import { findSpecFile, type LoadedSpec, loadSpec, releaseConfig } from '../../spec/index.js';
import { openStateStore, type StateReader, workspaceExists, workspaceFor } from '../../state/index.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';
import { EXIT_CHANGES, EXIT_OK } from '../errors.js';

export const command: Command = {
  name: 'plan',
  summary: 'Show what would change: + create, -/+ replace, - destroy (never an in-place update).',
  usage: 'cairn plan [--env ENV] [-f FILE] [--detailed-exitcode] [--output json]',
  description: `Compares cairn.yaml with what runs in each environment (or only --env). A changed
service is always replaced by a new release; nothing is changed in place.
Exit codes: 0 success; with --detailed-exitcode, 0 no changes, 2 changes present; 1 error.`,
  options: {
    file: FILE_OPTION,
    env: { type: 'string', short: 'e', value: 'ENV', description: 'Plan only this environment.' },
    'detailed-exitcode': { type: 'boolean', description: 'Exit 2 when changes are present.' },
    output: OUTPUT_OPTION,
  },
  run(ctx) {
    const loaded = loadSpec(findSpecFile(ctx.options.file as string | undefined, ctx.cwd));
    const envs = selectEnvs(loaded, ctx.options.env as string | undefined, command.usage);
    const ws = workspaceFor(loaded.file, ctx.env);
    const hasState = workspaceExists(ws);
    const store = hasState ? openStateStore(ws) : undefined;
    let current: CurrentService[];
    try {
      current = store ? currentServices(store, envs) : [];
    } finally {
      store?.close();
    }
    const plan = planChanges(current, desiredServices(loaded, envs));
    if (ctx.output === 'json') {
      ctx.stdout(`${JSON.stringify({ spec: loaded.file, environments: envs, ...plan }, null, 2)}\n`);
    } else {
      ctx.stdout(`cairn plan: ${loaded.file}, environment(s) ${envs.join(', ')}\n`);
      if (!hasState)
        ctx.stdout('  (no workspace yet: nothing runs, so everything is new; `cairn init` creates one)\n');
      ctx.stdout(`\n${renderPlan(plan)}`);
    }
    return ctx.options['detailed-exitcode'] && plan.items.length > 0 ? EXIT_CHANGES : EXIT_OK;
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

function desiredServices(loaded: LoadedSpec, envs: string[]): DesiredService[] {
  const { spec } = loaded;
  return envs.flatMap((env) =>
    Object.entries(spec.services).map(([name, s]) => ({
      env,
      service: name,
      config: { ...releaseConfig(spec, name) },
      replicas: s.run.replicas,
      strategy: s.deploy.strategy,
    })),
  );
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
          config: release.config,
          sourceDigest: release.sourceDigest,
          instances,
        },
      ];
    }),
  );
}
