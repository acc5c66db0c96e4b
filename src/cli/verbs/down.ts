import { setTimeout as sleep } from 'node:timers/promises';
import { CairnError } from '../../lib/index.js';
import { readApiInfo } from '../../server/client.js';
import { clientOf, workspaceOf } from '../client.js';
import { type Command, FILE_OPTION } from '../command.js';

const STOP_TIMEOUT_MS = 120_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const command: Command = {
  name: 'down',
  summary: 'Stop the control plane and, unless --keep-instances, every instance it runs.',
  usage: 'cairn down [-f FILE] [--keep-instances]',
  description: `Asks the running control plane to stop. Instances are drained and stopped first unless
--keep-instances is given, in which case they keep serving until the next \`cairn up\` adopts them.
What should run is kept in the state store, so \`cairn up\` starts it again.`,
  options: {
    file: FILE_OPTION,
    'keep-instances': { type: 'boolean', description: 'Leave instances running.' },
  },
  async run(ctx) {
    const info = readApiInfo(workspaceOf(ctx).ws);
    await clientOf(ctx).post('/v1/shutdown', { keepInstances: ctx.options['keep-instances'] === true });
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
