import { openImageStore, serviceRef } from '../../artifact/index.js';
import type { RolloutView } from '../../server/client.js';
import {
  clientOf,
  describeRollout,
  ENV_OPTION,
  requireEnv,
  requireService,
  WAIT_TIMEOUT_OPTION,
  waitForRollout,
  workspaceOf,
} from '../client.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION } from '../command.js';
import { EXIT_ERROR } from '../errors.js';
import { loadCommand } from '../main.js';

const USAGE = 'cairn deploy SERVICE --env ENV [--image IMAGE | --release REL] [--approve] [--wait]';

/** With neither --image nor --release: build the service now (the build command, with its signing). */
async function buildFirst(ctx: CommandContext, service: string): Promise<string> {
  const build = (await loadCommand('build'))!;
  const code = await build.run({
    ...ctx,
    args: [service],
    output: 'text',
    stdout: ctx.output === 'json' ? () => {} : ctx.stdout,
  });
  if (code) throw new Error(`building ${service} failed`);
  const { ws } = workspaceOf(ctx);
  return (await openImageStore(ws.store).resolve(serviceRef(service))).digest;
}

export const command: Command = {
  name: 'deploy',
  summary: 'Roll out a new release of a service to an environment (builds first when given nothing).',
  usage: USAGE,
  description: `Creates a release (image + the service's run settings) and a rollout by the service's
strategy (deploy.strategy: bluegreen, canary, rolling). The environment's gates run first: the
predecessor environment (after:), approval (--approve), and trusted signatures (trust.keys);
a denial exits 3 and changes nothing. Needs \`cairn up\`. With --wait, follows the rollout and exits
1 if it failed or was rolled back. An environment with a \`kubernetes\` cluster gets the release as a
Deployment of its own there (docs/kubernetes.md); the cluster is checked first, and a canary there is
not yet supported.`,
  options: {
    file: FILE_OPTION,
    env: ENV_OPTION,
    image: { type: 'string', value: 'IMAGE', description: 'Image: service name, store ref or digest.' },
    release: { type: 'string', value: 'REL', description: 'An existing release id (redeploy it unchanged).' },
    approve: { type: 'boolean', description: 'Approve a rollout to an environment with approval: true.' },
    wait: { type: 'boolean', short: 'w', description: 'Follow the rollout until it is done.' },
    timeout: WAIT_TIMEOUT_OPTION,
    output: OUTPUT_OPTION,
  },
  async run(ctx) {
    const service = requireService(ctx, USAGE);
    const env = requireEnv(ctx, USAGE);
    const client = clientOf(ctx);
    const release = ctx.options.release as string | undefined;
    const image = release
      ? undefined
      : ((ctx.options.image as string | undefined) ?? (await buildFirst(ctx, service)));
    const { deployment, warnings } = await client.post<{ deployment: RolloutView; warnings?: string[] }>(
      '/v1/deploy',
      {
        service,
        env,
        ...(image ? { image } : {}),
        ...(release ? { release } : {}),
        approve: ctx.options.approve === true,
      },
    );
    for (const w of warnings ?? []) ctx.stderr(`warning: ${w}\n`);
    if (ctx.output === 'text')
      ctx.stdout(
        `deploying ${service} to ${env}: rollout ${deployment.id} (${deployment.strategy}) → ${deployment.to}\n`,
      );
    const final = ctx.options.wait ? await waitForRollout(ctx, client, deployment) : deployment;
    if (ctx.output === 'json') ctx.stdout(`${JSON.stringify({ deployment: final }, null, 2)}\n`);
    else if (ctx.options.wait) ctx.stdout(`${describeRollout(final)}\n`);
    return ctx.options.wait && final.phase !== 'succeeded' ? EXIT_ERROR : 0;
  },
};
