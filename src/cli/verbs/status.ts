// The formatter alone: status must start without the image store and registry code.
import { formatBytes } from '../../artifact/progress.js';
import { formatDurationMs } from '../../lib/index.js';
import { type DiskView, type DriftStatus, readApiInfo, type ServiceStatus } from '../../server/client.js';
import { clientOf, describeRollout, ENV_OPTION, workspaceOf } from '../client.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

function render(services: ServiceStatus[], drift: DriftStatus[], disk: DiskView | undefined): string {
  const lines: string[] = disk?.full ? renderFullDisk(disk) : [];
  if (services.length === 0) lines.push('nothing deployed yet: `cairn deploy SERVICE --env ENV`');
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
  for (const d of drift) lines.push(...renderDrift(d));
  return `${lines.join('\n')}\n`;
}

/** A full disk comes first: what still works, what does not, and what to do. */
function renderFullDisk(d: DiskView): string[] {
  const free = d.freeBytes === undefined ? '' : ` (${formatBytes(d.freeBytes)} free)`;
  return [
    `disk: FULL: no space left on device at ${d.path}${free} since ${d.since ?? '?'}`,
    `  ${d.error ?? ''}`,
    '  traffic is still served; the access log is dropped and deploys are refused until space returns',
    `  free space on that disk (\`df -h ${d.path}\`); cairn carries on by itself`,
  ];
}

/** `drift (dev): enforce, full check every 60s, fast path on; last check … in sync`, then alerts. */
function renderDrift(d: DriftStatus): string[] {
  const head = `drift (${d.env}): ${d.mode}, full check every ${formatDurationMs(d.intervalMs)}, fast path ${d.fastPath ? 'on' : 'off'}`;
  const c = d.lastCheck;
  const last = c
    ? `last check ${c.at} (${c.trigger}, ${c.durationMs} ms): ${
        c.notInSync === 0
          ? `${c.instances} instance(s) in sync`
          : `${c.notInSync} of ${c.instances} instance(s) not in sync`
      }`
    : 'not checked yet';
  const lines = [`${head}; ${last}`];
  for (const q of d.quarantined) {
    lines.push(`  ALERT quarantined ${q.id} (${q.service} ${q.release}) since ${q.since}: ${q.reason ?? ''}`);
    lines.push(
      `        out of traffic, kept running for inspection; clear with \`cairn drift --clear ${q.id}\``,
    );
  }
  return lines;
}

export const command: Command = {
  name: 'status',
  summary:
    'Show each service: current release, rollout phase and step, weights, instances and health; drift checks and quarantined instances; a full disk.',
  usage: 'cairn status [--env ENV] [--output json]',
  options: { file: FILE_OPTION, env: ENV_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  async run(ctx) {
    const env = ctx.options.env as string | undefined;
    const {
      services,
      drift = [],
      disk,
    } = await clientOf(ctx).get<{
      services: ServiceStatus[];
      drift?: DriftStatus[];
      disk?: DiskView;
    }>(`/v1/status${env ? `?env=${encodeURIComponent(env)}` : ''}`);
    const dashboard = readApiInfo(workspaceOf(ctx).ws)?.ui;
    ctx.stdout(
      ctx.output === 'json'
        ? `${JSON.stringify({ services, drift, ...(disk ? { disk } : {}) }, null, 2)}\n`
        : `${render(services, drift, disk)}${dashboard ? `dashboard: ${dashboard}\n` : ''}`,
    );
    return 0;
  },
};
