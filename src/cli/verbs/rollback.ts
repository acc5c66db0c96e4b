import type { RolloutView } from '../../server/client.js';
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

const USAGE = 'cairn rollback SERVICE --env ENV [--to REL] [--force] [--wait]';

export const command: Command = {
  name: 'rollback',
  summary: 'Send traffic back to the previous known-good release (a weight flip when it is still warm).',
  usage: USAGE,
  description: `Without --to: aborts a rollout in progress, or goes back to the release that served before
the current one. A release kept warm (deploy.scaleDownDelayMs) takes traffic at once; a cold one
is started, checked healthy, then switched to. The target release passes the environment's gates
again (signature, scan, policies); when a newer policy or vulnerability database denies it, the
rollback exits 3 naming every failed rule, and --force goes back anyway — recorded in the audit log
as gate.overridden and in a signed decision attestation.`,
  options: {
    file: FILE_OPTION,
    env: ENV_OPTION,
    to: { type: 'string', value: 'REL', description: 'The release to go back to.' },
    force: { type: 'boolean', description: 'Roll back even to a release the gates now deny (recorded).' },
    wait: { type: 'boolean', short: 'w', description: 'Follow until traffic has moved.' },
    timeout: WAIT_TIMEOUT_OPTION,
    output: OUTPUT_OPTION,
  },
  async run(ctx) {
    const service = requireService(ctx, USAGE);
    const env = requireEnv(ctx, USAGE);
    const client = clientOf(ctx);
    const force = ctx.options.force === true;
    const body = {
      service,
      env,
      ...(ctx.options.to ? { to: ctx.options.to } : {}),
      ...(force ? { force } : {}),
    };
    let { deployment, warnings } = await client.post<{ deployment: RolloutView; warnings?: string[] }>(
      '/v1/rollback',
      body,
    );
    for (const w of warnings ?? []) ctx.stderr(`warning: ${w}\n`);
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
