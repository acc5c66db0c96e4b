import type { RolloutView } from '../../server/index.js';
import {
  clientOf,
  describeRollout,
  ENV_OPTION,
  requireEnv,
  requireService,
  WAIT_TIMEOUT_OPTION,
  waitForRollout,
} from '../client.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';
import { EXIT_ERROR } from '../errors.js';

const USAGE = 'cairn rollback SERVICE --env ENV [--to REL] [--wait]';

export const command: Command = {
  name: 'rollback',
  summary: 'Send traffic back to the previous known-good release (a weight flip when it is still warm).',
  usage: USAGE,
  description: `Without --to: aborts a rollout in progress, or goes back to the release that served before
the current one. A release kept warm (deploy.scaleDownDelayMs) takes traffic at once; a cold one
is started, checked healthy, then switched to.`,
  options: {
    file: FILE_OPTION,
    env: ENV_OPTION,
    to: { type: 'string', value: 'REL', description: 'The release to go back to.' },
    wait: { type: 'boolean', short: 'w', description: 'Follow until traffic has moved.' },
    timeout: WAIT_TIMEOUT_OPTION,
    output: OUTPUT_OPTION,
  },
  async run(ctx) {
    const service = requireService(ctx, USAGE);
    const env = requireEnv(ctx, USAGE);
    const client = clientOf(ctx);
    const body = { service, env, ...(ctx.options.to ? { to: ctx.options.to } : {}) };
    let { deployment } = await client.post<{ deployment: RolloutView }>('/v1/rollback', body);
    if (ctx.options.wait) deployment = await waitForRollout(ctx, client, deployment);
    ctx.stdout(
      ctx.output === 'json'
        ? `${JSON.stringify({ deployment }, null, 2)}\n`
        : `${describeRollout(deployment)}\n`,
    );
    // Traffic is back when the rollback rollout succeeded, or when an aborted rollout finished rolling back.
    const back =
      deployment.phase === 'succeeded' || (deployment.phase === 'aborted' && deployment.stage === 'done');
    return ctx.options.wait && !back ? EXIT_ERROR : 0;
  },
};
