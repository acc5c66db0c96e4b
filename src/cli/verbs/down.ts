import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stopLeftGateways } from '../../gateway/index.js';
import { CairnError } from '../../lib/index.js';
import { readApiInfo } from '../../server/client.js';
import { clientOf, workspaceOf } from '../client.js';
import { type Command, type CommandContext, FILE_OPTION } from '../command.js';

const STOP_TIMEOUT_MS = 120_000;

/** Whether `pid` runs; a killed process its parent has not reaped yet (a zombie) does not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true;
  }
}

/** No control plane runs: the gateway processes it left are stopped; instances wait for `cairn up`. */
async function stopLeftDataPlane(ctx: CommandContext, runDir: string, error: unknown): Promise<number> {
  const stopped = await stopLeftGateways(runDir);
  if (stopped.length === 0) throw error;
  ctx.stdout(
    `cairn down: no control plane was running; stopped the gateway of ${stopped.join(', ')}\n` +
      '  instances it left are still running: `cairn up` adopts them, then `cairn down` stops them\n',
  );
  return 0;
}

export const command: Command = {
  name: 'down',
  summary: 'Stop the control plane and, unless --keep-instances, every instance it runs.',
  usage: 'cairn down [-f FILE] [--keep-instances]',
  description: `Asks the running control plane to stop. Instances are drained and stopped first, then
the gateway processes, unless --keep-instances is given: then instances and gateways keep serving
until the next \`cairn up\` adopts them. When no control plane runs (it was killed), the gateway
processes it left are stopped.
What should run is kept in the state store, so \`cairn up\` starts it again.`,
  options: {
    file: FILE_OPTION,
    'keep-instances': { type: 'boolean', description: 'Leave instances and gateways running.' },
  },
  async run(ctx) {
    const { ws } = workspaceOf(ctx);
    const info = readApiInfo(ws);
    try {
      await clientOf(ctx).post('/v1/shutdown', { keepInstances: ctx.options['keep-instances'] === true });
    } catch (error) {
      if ((info && alive(info.pid)) || ctx.options['keep-instances']) throw error;
      return stopLeftDataPlane(ctx, join(ws.root, 'run'), error);
    }
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (info && info.pid !== process.pid && alive(info.pid)) {
      if (Date.now() > deadline)
        throw new CairnError('timeout', `stopping the control plane: pid ${info.pid} is still running`);
      await sleep(100);
    }
    ctx.stdout(
      `cairn down: control plane stopped${ctx.options['keep-instances'] ? ' (instances kept running)' : ''}\n`,
    );
    return 0;
  },
};
