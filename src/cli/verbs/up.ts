import { spawn } from 'node:child_process';
import { openSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CairnError, ConflictError, NotFoundError, processLog, ValidationError } from '../../lib/index.js';
import { ApiClient, ControlPlane, DEFAULT_UI, readApiInfo } from '../../server/index.js';
import { workspaceExists } from '../../state/index.js';
import { workspaceOf } from '../client.js';
import { type Command, type CommandContext, FILE_OPTION } from '../command.js';

const READY_TIMEOUT_MS = 60_000;

type UiChoice =
  | { host: string; port: number; explicit: boolean; tls?: { cert: Buffer; key: Buffer } }
  | false;

/** `--ui` with `--ui-cert`/`--ui-key`: HTTPS with that certificate (both or neither). */
function uiChoice(ctx: CommandContext): UiChoice {
  const choice = uiOption(ctx.options.ui);
  const certFile = ctx.options['ui-cert'] as string | undefined;
  const keyFile = ctx.options['ui-key'] as string | undefined;
  if (!certFile && !keyFile) return choice;
  if (!certFile || !keyFile)
    throw new ValidationError(
      'reading --ui-cert and --ui-key: give both (a PEM certificate and its key)',
      [],
    );
  if (choice === false) throw new ValidationError('reading --ui-cert: the dashboard is off (--ui off)', []);
  const read = (file: string, what: string) => {
    try {
      return readFileSync(resolve(ctx.cwd, file));
    } catch (error) {
      throw new NotFoundError(
        `reading the dashboard's ${what} ${file}: ${(error as NodeJS.ErrnoException).code}`,
        {
          hint: 'name PEM files this user can read',
        },
      );
    }
  };
  return { ...choice, tls: { cert: read(certFile, 'certificate'), key: read(keyFile, 'key') } };
}

/** `--ui`: off, or host:port (a busy port is then an error); absent: the default, moved if busy. */
function uiOption(value: unknown): UiChoice {
  if (value === undefined) return { ...DEFAULT_UI, explicit: false };
  const text = String(value);
  if (text === 'off' || text === 'false') return false;
  const m = /^(.+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535)
    throw new ValidationError(`reading --ui: "${text}" is not host:port or off`, [], {
      hint: `e.g. --ui ${DEFAULT_UI.host}:${DEFAULT_UI.port}`,
    });
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), explicit: true };
}

async function alreadyRunning(ctx: CommandContext): Promise<string | undefined> {
  const { ws } = workspaceOf(ctx);
  const info = readApiInfo(ws);
  if (!info) return undefined;
  try {
    await ApiClient.forWorkspace(ws).get('/v1/health');
    return info.url;
  } catch {
    return undefined;
  }
}

async function detach(ctx: CommandContext, specFile: string): Promise<number> {
  const { ws } = workspaceOf(ctx);
  const logFile = join(ws.logs, 'control-plane.log');
  const out = openSync(logFile, 'a', 0o600);
  const args = [
    process.argv[1]!,
    'up',
    '-f',
    specFile,
    ...(ctx.options.driver ? ['--driver', String(ctx.options.driver)] : []),
    ...(ctx.options.ui !== undefined ? ['--ui', String(ctx.options.ui)] : []),
    ...(ctx.options['ui-cert'] ? ['--ui-cert', resolve(ctx.cwd, String(ctx.options['ui-cert']))] : []),
    ...(ctx.options['ui-key'] ? ['--ui-key', resolve(ctx.cwd, String(ctx.options['ui-key']))] : []),
    ...(ctx.options['api-port'] ? ['--api-port', String(ctx.options['api-port'])] : []),
  ];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', out, out],
    cwd: ctx.cwd,
    env: ctx.env,
  });
  child.unref();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const url = await alreadyRunning(ctx);
    if (url) {
      const ui = readApiInfo(ws)?.ui;
      ctx.stdout(
        `cairn up: control plane running in the background (pid ${child.pid}) at ${url}\n${ui ? `  dashboard: ${ui}\n` : ''}  log: ${logFile}\n`,
      );
      return 0;
    }
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  // The control plane logs why it stopped (an invalid spec, a port in use): show it here.
  const tail = lastLines(logFile, 3);
  throw new CairnError(
    'start_failed',
    `starting the control plane: it did not become ready (pid ${child.pid})${tail ? `:\n${tail}` : ''}`,
    { hint: `read ${logFile}` },
  );
}

function lastLines(file: string, n: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

async function run(ctx: CommandContext): Promise<number> {
  const { specFile, ws } = workspaceOf(ctx);
  if (!workspaceExists(ws))
    throw new CairnError('no_workspace', `starting the control plane: no workspace at ${ws.root}`, {
      hint: 'run `cairn init` first',
    });
  const running = await alreadyRunning(ctx);
  if (running)
    throw new ConflictError(`starting the control plane: one is already running at ${running}`, {
      hint: 'stop it with `cairn down`',
    });
  // No one answers at the address it names: a killed control plane's api.json must not outlive
  // this start, whether it succeeds (which writes a new one) or fails (a damaged state.db, a busy port).
  rmSync(join(ws.root, 'api.json'), { force: true });
  const ui = uiChoice(ctx);
  if (ctx.options.detach) return detach(ctx, specFile);
  // A full disk must not stop the control plane through its own log: lines wait until they fit.
  const lines = processLog(1, ctx.stdout);
  const log = (line: Record<string, unknown>) => lines.line(line);
  const cp = new ControlPlane({
    specFile,
    workspace: ws,
    driver: (ctx.options.driver as 'auto' | undefined) ?? 'auto',
    ...(ctx.options['api-port'] ? { apiPort: Number(ctx.options['api-port']) } : {}),
    ui,
    log,
  });
  let url: string;
  try {
    url = await cp.start();
  } catch (error) {
    // Close what did start (gateways, the API, an engine's process); running instances stay for the next up.
    await cp.stop(true).catch(() => {});
    throw error;
  }
  const gateways = [
    ...cp.gateways.keys(),
    ...[...cp.clusterGateways.keys()].map((env) => `${env} (gateway in the cluster)`),
  ].join(', ');
  log({
    msg: 'control plane ready',
    api: url,
    ...(cp.uiUrl ? { dashboard: cp.uiUrl } : {}),
    environments: gateways,
  });
  const signal = new Promise<boolean>((resolve) => {
    process.once('SIGINT', () => resolve(false));
    process.once('SIGTERM', () => resolve(false));
  });
  const keep = await Promise.race([signal, cp.shutdownRequested]);
  log({ msg: 'stopping', keepInstances: keep });
  await cp.stop(keep);
  log({ msg: 'stopped' });
  return 0;
}

export const command: Command = {
  name: 'up',
  summary: 'Start the control plane: API, gateways, supervision, rollouts (--detach for the background).',
  usage:
    'cairn up [-f FILE] [--detach] [--driver auto|runc|bwrap|process] [--ui HOST:PORT|off] [--ui-cert F --ui-key F]',
  description: `Runs the control plane for this workspace: the token-protected API on 127.0.0.1, one gateway
process per environment (environments.<env>.gateway.listen), health checks and replacement of
instances, every rollout, and the dashboard (http://127.0.0.1:7070 unless \`--ui\` says otherwise;
log in with the workspace's .cairn/api-token or a token from \`cairn token create\`). On start it
re-adopts the gateway processes and instances that kept running, stops strays, and carries on
with rollouts from their last persisted step. Stop it with \`cairn down\` (or Ctrl-C).
Gateways and instances are detached: if this process dies they keep serving, and with
\`cairn down --keep-instances\` too.
On a full disk it keeps serving: the gateway drops its access log, each warns once, \`cairn status\`
shows the disk, deploys are refused (exit 1), and it carries on by itself when space returns.`,
  options: {
    file: FILE_OPTION,
    detach: { type: 'boolean', short: 'd', description: 'Run in the background; print where its log goes.' },
    driver: {
      type: 'string',
      value: 'KIND',
      description: 'Runtime driver: auto, runc, bwrap or process.',
      default: 'auto',
    },
    ui: {
      type: 'string',
      value: 'HOST:PORT',
      description: `Where the dashboard listens, or "off" (default ${DEFAULT_UI.host}:${DEFAULT_UI.port}; another free port if that one is busy).`,
    },
    'ui-cert': {
      type: 'string',
      value: 'FILE',
      description:
        'Serve the dashboard over HTTPS with this PEM certificate (with --ui-key); cookies are then Secure.',
    },
    'ui-key': { type: 'string', value: 'FILE', description: 'The PEM private key of --ui-cert.' },
    'api-port': {
      type: 'string',
      value: 'PORT',
      description: 'Port of the API on 127.0.0.1 (default: any free port).',
    },
  },
  run,
};
