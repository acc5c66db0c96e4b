import { CairnError } from '../../lib/index.js';
import type { RolloutView } from '../../server/client.js';
import { clientOf, describeRollout, requireService, WAIT_TIMEOUT_OPTION, waitForRollout } from '../client.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';
import { EXIT_ERROR } from '../errors.js';

const USAGE = 'cairn promote SERVICE --from ENV --to ENV [--approve] [--wait]';

export const command: Command = {
  name: 'promote',
  summary: 'Move the exact release that completed in one environment to the next, through its gates.',
  usage: USAGE,
  description: `Promotion never rebuilds: the release (same image digest, same run settings) that serves in
--from is rolled out to --to, after the target's gates: trusted signatures, and approval when
the environment says approval: true (give --approve). A denial exits 3.`,
  options: {
    file: FILE_OPTION,
    from: { type: 'string', value: 'ENV', description: 'Where the release completed.' },
    to: { type: 'string', value: 'ENV', description: 'Where it goes.' },
    approve: { type: 'boolean', description: 'Approve the promotion.' },
    wait: { type: 'boolean', short: 'w', description: 'Follow the rollout until it is done.' },
    timeout: WAIT_TIMEOUT_OPTION,
    output: OUTPUT_OPTION,
  },
  async run(ctx) {
    const service = requireService(ctx, USAGE);
    const { from, to } = ctx.options as { from?: string; to?: string };
    if (!from || !to)
      throw new CairnError('usage', 'choosing environments: --from and --to are required', {
        hint: `usage: ${USAGE}`,
      });
    const client = clientOf(ctx);
    let { deployment, warnings } = await client.post<{ deployment: RolloutView; warnings?: string[] }>(
      '/v1/promote',
      {
        service,
        from,
        to,
        approve: ctx.options.approve === true,
      },
    );
    for (const w of warnings ?? []) ctx.stderr(`warning: ${w}\n`);
    if (ctx.options.wait) deployment = await waitForRollout(ctx, client, deployment);
    ctx.stdout(
      ctx.output === 'json'
        ? `${JSON.stringify({ deployment }, null, 2)}\n`
        : `${describeRollout(deployment)}\n`,
    );
    return ctx.options.wait && deployment.phase !== 'succeeded' ? EXIT_ERROR : 0;
  },
};
