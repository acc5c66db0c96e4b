import type { ServiceStatus } from '../../server/index.js';
import { clientOf, describeRollout, ENV_OPTION } from '../client.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

function render(services: ServiceStatus[]): string {
  if (services.length === 0) return 'nothing deployed yet: `cairn deploy SERVICE --env ENV`\n';
  const lines: string[] = [];
  for (const s of services) {
    const weights = s.weights.map((w) => `${w.release} ${w.weight}%`).join(', ') || 'no traffic';
    lines.push(
      `${s.service} (${s.env}): release ${s.release ?? '(none)'}${s.previousRelease ? `, previous ${s.previousRelease}` : ''}`,
    );
    lines.push(`  traffic: ${weights}`);
    if (s.rollout) lines.push(`  last rollout: ${describeRollout(s.rollout)}`);
    for (const i of s.instances)
      lines.push(`  ${i.id}  ${i.release}  ${i.state.padEnd(9)} ${i.endpoint ?? ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  name: 'status',
  summary: 'Show each service: current release, rollout phase and step, weights, instances and health.',
  usage: 'cairn status [--env ENV] [--output json]',
  options: { file: FILE_OPTION, env: ENV_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  async run(ctx) {
    const env = ctx.options.env as string | undefined;
    const { services } = await clientOf(ctx).get<{ services: ServiceStatus[] }>(
      `/v1/status${env ? `?env=${encodeURIComponent(env)}` : ''}`,
    );
    ctx.stdout(ctx.output === 'json' ? `${JSON.stringify({ services }, null, 2)}\n` : render(services));
    return 0;
  },
};
