import { formatDurationMs } from '../../lib/index.js';
import type { HistoryEntry } from '../../server/client.js';
import { clientOf, ENV_OPTION, requireEnv, requireService } from '../client.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

const USAGE = 'cairn history SERVICE --env ENV [--output json]';

export const command: Command = {
  name: 'history',
  summary: 'List past rollouts of a service in an environment, with outcome and duration.',
  usage: USAGE,
  options: { file: FILE_OPTION, env: ENV_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  async run(ctx) {
    const service = requireService(ctx, USAGE);
    const env = requireEnv(ctx, USAGE);
    const q = `service=${encodeURIComponent(service)}&env=${encodeURIComponent(env)}`;
    const { deployments, releases } = await clientOf(ctx).get<{
      deployments: HistoryEntry[];
      releases?: Record<string, unknown>;
    }>(`/v1/history?${q}`);
    if (ctx.output === 'json') {
      // The releases of those rollouts (image digest, signers…), by id, as the dashboard gets them.
      ctx.stdout(`${JSON.stringify({ deployments, releases: releases ?? {} }, null, 2)}\n`);
      return 0;
    }
    if (deployments.length === 0) ctx.stdout(`no rollouts of ${service} in ${env} yet\n`);
    for (const d of deployments) {
      const took = d.durationMs === undefined ? 'running' : formatDurationMs(d.durationMs);
      ctx.stdout(
        `${d.createdAt}  ${d.id}  ${d.strategy.padEnd(9)} ${d.from ?? '(none)'} → ${d.to}  ${d.phase.padEnd(10)} ${took}${d.reason ? `  ${d.reason}` : ''}\n`,
      );
    }
    return 0;
  },
};
