import { setTimeout as sleep } from 'node:timers/promises';
import { NotFoundError } from '../../lib/index.js';
import { findInstanceLog, followLog, lastLines, readFrom } from '../../runtime/index.js';
import { openStateStore, type Workspace, workspaceExists } from '../../state/index.js';
import { ENV_OPTION, workspaceOf } from '../client.js';
import { type Command, type CommandContext, FILE_OPTION, UsageError } from '../command.js';
import { podLogs } from '../pod-logs.js';
import { prefixedLines } from '../prefixed-lines.js';

const USAGE = 'cairn logs INSTANCE | SERVICE --env ENV [-f] [--tail N] [--file FILE]';
/** How often `logs SERVICE -f` looks for instances that started since (replacements, new releases). */
const NEW_INSTANCES_POLL_MS = 1000;
/** `-f` means follow here, as in docker and kubectl; the spec file is `--file` only. */
const SPEC_FILE_OPTION = { ...FILE_OPTION, short: undefined };

function tailOption(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(String(value))) {
    throw new UsageError(`reading --tail: "${String(value)}" is not a number of lines`, USAGE);
  }
  return Number(value);
}

export const command: Command = {
  name: 'logs',
  summary: "Print an instance's output (stdout and stderr), or a service's with --env; -f follows it.",
  usage: USAGE,
  description: `Reads the log file the runtime writes for each instance (.cairn/logs/<id>.log). INSTANCE
is an instance id or a unique prefix of one (see \`cairn status\`). The log outlives the instance, so
the output of a crashed or replaced instance stays readable. With --env, the argument is a service:
the logs of all its live instances in that environment, each line prefixed with the instance id
("ins-… | line"); with -f it keeps following them and picks up instances started since
(replacements, a new release). Works without a running control plane.
In a Kubernetes environment instances are pods: their output is read from the cluster (the
kubelet keeps it; pods/log), INSTANCE is the pod's name; -f follows it through the apiserver until
Ctrl-C or until the pod goes away (a service's, until Ctrl-C, picking up pods that start).
Exit 0, or 1 when there is no such instance (or no live instance of the service).`,
  options: {
    file: SPEC_FILE_OPTION,
    env: ENV_OPTION,
    follow: {
      type: 'boolean',
      short: 'f',
      description: 'Keep printing what the instance writes, until Ctrl-C.',
    },
    tail: { type: 'string', short: 'n', value: 'N', description: 'Only the last N lines.' },
  },
  async run(ctx) {
    const id = ctx.args[0];
    if (!id || ctx.args.length > 1)
      throw new UsageError('reading arguments: give exactly one INSTANCE', USAGE);
    const tail = tailOption(ctx.options.tail);
    const { ws, specFile } = workspaceOf(ctx);
    const env = ctx.options.env as string | undefined;
    if (env !== undefined) {
      const pods = {
        env,
        pods: liveInstances(ws, env, id),
        tail,
        livePods: () => liveInstances(ws, env, id),
      };
      if (pods.pods.length > 0 && (await podLogs(ctx, specFile, pods))) return 0;
      return serviceLogs(ctx, ws, { service: id, env, tail });
    }
    const pod = podRecord(ws, id);
    if (pod && (await podLogs(ctx, specFile, { env: pod.env, pods: [pod.id], tail }))) return 0;
    const log = findInstanceLog(ws.logs, id);
    const { text, offset } = await readFrom(log.path, 0);
    ctx.stdout(lastLines(text, tail));
    if (!ctx.options.follow) return 0;
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await followLog(log.path, offset, ctx.stdout, controller.signal);
    return 0;
  },
};

/** The instance record of a pod (instances of a Kubernetes environment are named by their pod). */
function podRecord(ws: Workspace, id: string): { id: string; env: string } | undefined {
  if (!workspaceExists(ws)) return undefined;
  const store = openStateStore(ws);
  try {
    const record = store.getInstance(id);
    return record?.driver === 'kubernetes' ? { id: record.id, env: record.env } : undefined;
  } finally {
    store.close();
  }
}

/** The live instances of a service in an environment, oldest first. */
function liveInstances(ws: Workspace, env: string, service: string): string[] {
  if (!workspaceExists(ws)) return [];
  const store = openStateStore(ws);
  try {
    return store
      .listInstances({ env, service, live: true })
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map((i) => i.id);
  } finally {
    store.close();
  }
}

/** `logs SERVICE --env ENV`: every live instance's output, each line prefixed with its id. */
async function serviceLogs(
  ctx: CommandContext,
  ws: Workspace,
  target: { service: string; env: string; tail: number | undefined },
): Promise<number> {
  const { service, env, tail } = target;
  const ids = liveInstances(ws, env, service);
  if (ids.length === 0 && !ctx.options.follow) {
    throw new NotFoundError(`reading the logs of ${service} in ${env}: no instance of it runs`, {
      hint: `\`cairn status --env ${env}\` shows what runs; \`cairn logs INSTANCE\` reads a stopped instance's log`,
    });
  }
  const controller = new AbortController();
  const following: Promise<void>[] = [];
  const seen = new Set<string>();
  const open = async (id: string, fromStart: boolean) => {
    seen.add(id);
    const log = findInstanceLog(ws.logs, id);
    const out = prefixedLines(id, ctx.stdout);
    const { text, offset } = await readFrom(log.path, 0);
    out(fromStart ? text : lastLines(text, tail));
    out.flush();
    if (ctx.options.follow) following.push(followLog(log.path, offset, out, controller.signal));
  };
  for (const id of ids) await open(id, false).catch(() => undefined);
  if (!ctx.options.follow) return 0;
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  while (!controller.signal.aborted) {
    await sleep(NEW_INSTANCES_POLL_MS);
    for (const id of liveInstances(ws, env, service))
      if (!seen.has(id)) await open(id, true).catch(() => seen.delete(id));
  }
  await Promise.all(following);
  return 0;
}
