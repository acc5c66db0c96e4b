import { formatDurationMs } from '../../lib/index.js';
import { openStateStore, workspaceExists } from '../../state/index.js';
import { ENV_OPTION, workspaceOf } from '../client.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

export const command: Command = {
  name: 'ps',
  summary: 'List running instances: release, driver, endpoint, health, uptime.',
  usage: 'cairn ps [--env ENV] [--output json]',
  description: 'Reads the state store directly, so it works whether or not `cairn up` is running.',
  options: { file: FILE_OPTION, env: ENV_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  run(ctx) {
    const { ws } = workspaceOf(ctx);
    if (!workspaceExists(ws)) {
      ctx.stdout(
        ctx.output === 'json' ? '{"instances":[]}\n' : 'no workspace yet: nothing runs (`cairn init`)\n',
      );
      return 0;
    }
    const store = openStateStore(ws);
    try {
      const now = Date.now();
      const instances = store
        .listInstances({ live: true, ...(ctx.options.env ? { env: ctx.options.env as string } : {}) })
        .map((i) => ({
          id: i.id,
          env: i.env,
          service: i.service,
          release: i.releaseId,
          driver: i.driver,
          endpoint: i.endpoint,
          health: i.state,
          uptimeMs: now - Date.parse(i.createdAt),
        }));
      if (ctx.output === 'json') {
        ctx.stdout(`${JSON.stringify({ instances }, null, 2)}\n`);
        return 0;
      }
      if (instances.length === 0) ctx.stdout('no instances run\n');
      for (const i of instances) {
        ctx.stdout(
          `${i.id}  ${i.env.padEnd(6)} ${i.service.padEnd(10)} ${i.release}  ${i.driver.padEnd(7)} ${String(i.endpoint ?? '').padEnd(16)} ${i.health.padEnd(9)} up ${formatDurationMs(i.uptimeMs)}\n`,
        );
      }
      return 0;
    } finally {
      store.close();
    }
  },
};
