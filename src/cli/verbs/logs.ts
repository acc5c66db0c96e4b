import { findInstanceLog, followLog, lastLines, readFrom } from '../../runtime/index.js';
import { workspaceOf } from '../client.js';
import { type Command, FILE_OPTION, UsageError } from '../command.js';

const USAGE = 'cairn logs INSTANCE [-f] [--tail N] [--file FILE]';
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
  summary: "Print an instance's output (stdout and stderr); -f follows it.",
  usage: USAGE,
  description: `Reads the log file the runtime writes for each instance (.cairn/logs/<id>.log). INSTANCE
is an instance id or a unique prefix of one (see \`cairn status\`). The log outlives the instance, so
the output of a crashed or replaced instance stays readable. Works without a running control plane.
Exit 0, or 1 when there is no such instance.`,
  options: {
    file: SPEC_FILE_OPTION,
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
    const { ws } = workspaceOf(ctx);
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
