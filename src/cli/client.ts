/** What commands that talk to `cairn up` share: finding the workspace, the API client, waiting on a rollout. */
import { setTimeout as sleep } from 'node:timers/promises';
import { CairnError, DiskFullError, formatDurationMs, parseDurationMs } from '../lib/index.js';
import { ApiClient, type DiskView, type RolloutView } from '../server/client.js';
// Not the spec's index: verbs that only talk to the API must start without the YAML parser and CEL.
import { findSpecFile } from '../spec/spec-file.js';
import { type Workspace, workspaceFor } from '../state/index.js';
import type { CommandContext, OptionSpec } from './command.js';

export const ENV_OPTION: OptionSpec = {
  type: 'string',
  short: 'e',
  value: 'ENV',
  description: 'The environment.',
};
export const WAIT_TIMEOUT_OPTION: OptionSpec = {
  type: 'string',
  value: 'DURATION',
  description: 'With --wait: give up waiting after this long (the rollout goes on).',
  default: '15m',
};

export function workspaceOf(ctx: CommandContext): { specFile: string; ws: Workspace } {
  const specFile = findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
  return { specFile, ws: workspaceFor(specFile, ctx.env) };
}

export function clientOf(ctx: CommandContext): ApiClient {
  return ApiClient.forWorkspace(workspaceOf(ctx).ws);
}

export function requireEnv(ctx: CommandContext, usage: string): string {
  const env = ctx.options.env as string | undefined;
  if (!env)
    throw new CairnError('usage', 'choosing the environment: --env is required', { hint: `usage: ${usage}` });
  return env;
}

export function requireService(ctx: CommandContext, usage: string): string {
  const service = ctx.args[0];
  if (!service)
    throw new CairnError('usage', 'choosing the service: name it as the first argument', {
      hint: `usage: ${usage}`,
    });
  return service;
}

const TERMINAL = new Set(['done']);
/** How long a wait watches a full disk hold the rollout before it gives up (it may still fail by itself). */
const DISK_FULL_GRACE_MS = 5000;

/** Follows a rollout until it is done (or the timeout passes), printing each change of phase or step. */
export async function waitForRollout(
  ctx: CommandContext,
  client: ApiClient,
  first: RolloutView,
): Promise<RolloutView> {
  const timeoutMs = parseDurationMs(String(ctx.options.timeout ?? '15m')) ?? 900_000;
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let view = first;
  const told = new Set<string>();
  let problems: string[] = [];
  let fullSince: number | undefined;
  for (;;) {
    const line = describeRollout(view);
    if (line !== last && ctx.output === 'text') ctx.stdout(`  ${line}\n`);
    last = line;
    // Why instances are not healthy, the moment it is known: probe errors, exits with their last output.
    for (const problem of problems.filter((p) => !told.has(p))) {
      told.add(problem);
      if (ctx.output === 'text') ctx.stdout(`  ! ${problem}\n`);
    }
    if (TERMINAL.has(view.stage) || (view.stage === 'warm' && view.phase === 'succeeded')) return view;
    if (Date.now() > deadline) {
      throw new CairnError(
        'timeout',
        `waiting for rollout ${view.id}: still ${view.phase} after ${formatDurationMs(timeoutMs)}`,
        {
          hint: 'it goes on in the control plane; follow it with `cairn status`',
        },
      );
    }
    await sleep(200);
    const polled = await client.get<{ deployment: RolloutView; problems?: string[]; disk?: DiskView }>(
      `/v1/deployments/${view.id}`,
    );
    view = polled.deployment;
    problems = polled.problems ?? [];
    fullSince = polled.disk?.full ? (fullSince ?? Date.now()) : undefined;
    if (fullSince !== undefined && Date.now() - fullSince > DISK_FULL_GRACE_MS)
      throw stuckOnFullDisk(view, polled.disk!);
  }
}

/** A rollout held by a full disk: what holds it, that it goes on by itself, how to give up. */
function stuckOnFullDisk(view: RolloutView, disk: DiskView): DiskFullError {
  return new DiskFullError(
    `waiting for rollout ${view.id}: it cannot go on, no space left on device at ${disk.path} (since ${disk.since}): ${disk.error}`,
    {
      hint: `free space on that disk (\`df -h ${disk.path}\`): the rollout carries on by itself; or give it up with \`cairn abort\``,
    },
  );
}

export function describeRollout(v: RolloutView): string {
  const step = v.strategy === 'canary' ? ` step ${Math.min(v.step + 1, v.steps)}/${v.steps}` : '';
  const verdict = v.lastVerdict ? `, analysis ${v.lastVerdict.verdict}: ${v.lastVerdict.rule}` : '';
  const reason = v.reason ? ` — ${v.reason}` : '';
  return `${v.id} ${v.strategy} ${v.from ?? '(none)'} → ${v.to}: ${v.phase} (${v.stage})${step}, weight ${v.weight}%${verdict}${reason}`;
}
