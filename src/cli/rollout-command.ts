/** abort, pause, resume and promote-step: one shape, one file each in verbs/. */
import type { UserCommand } from '../rollout/index.js';
import type { RolloutView } from '../server/client.js';
import { clientOf, describeRollout, ENV_OPTION, requireEnv, requireService } from './client.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from './command.js';

export function rolloutCommand(name: UserCommand, summary: string): Command {
  const usage = `cairn ${name} SERVICE --env ENV`;
  return {
    name,
    summary,
    usage,
    options: { file: FILE_OPTION, env: ENV_OPTION, output: OUTPUT_OPTION },
    async run(ctx) {
      const body = { service: requireService(ctx, usage), env: requireEnv(ctx, usage), command: name };
      const { deployment } = await clientOf(ctx).post<{ deployment: RolloutView }>('/v1/command', body);
      ctx.stdout(
        ctx.output === 'json'
          ? `${JSON.stringify({ deployment }, null, 2)}\n`
          : `${describeRollout(deployment)}\n`,
      );
      return 0;
    },
  };
}
