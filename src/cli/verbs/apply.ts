import { type EdgePlan, renderEdgePlan } from '../../server/client.js';
import { clientOf } from '../client.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

export const command: Command = {
  name: 'apply',
  summary:
    "Take cairn.yaml's routes and environments into the running gateways, in place (planned, audited).",
  usage: 'cairn apply [--dry-run] [--output json]',
  description: `Routes, their edge policies (rate limits, body limits, timeouts, JWT auth) and the
environments' gateways are read by \`cairn up\`; a later change to cairn.yaml takes effect with
this command. It prints what changes (+ create, - destroy, -/+ replace), then applies it to the
running gateways without closing their listeners: in-flight requests finish on the routes they
started on, new ones see the new routes. A new environment gets its gateway; an environment that
left cairn.yaml loses it once nothing runs there. Nothing is applied when any change cannot be
(a gateway's listen address, engine or pin header: restart the control plane for those), and
every applied plan is one audit entry, edge.applied. --dry-run only prints the plan.`,
  options: {
    file: FILE_OPTION,
    'dry-run': { type: 'boolean', description: 'Print the plan; change nothing.' },
    output: OUTPUT_OPTION,
  },
  async run(ctx) {
    const client = clientOf(ctx);
    const dry = ctx.options['dry-run'] === true;
    const { plan } = dry
      ? await client.get<{ plan: EdgePlan }>('/v1/edge/plan')
      : await client.post<{ plan: EdgePlan & { applied: boolean } }>('/v1/edge/apply');
    if (ctx.output === 'json') ctx.stdout(`${JSON.stringify({ plan }, null, 2)}\n`);
    else {
      ctx.stdout(renderEdgePlan(plan));
      if (!dry && plan.changes.length > 0) ctx.stdout(`\nApplied ${plan.changes.length} edge change(s).\n`);
    }
    return 0;
  },
};
