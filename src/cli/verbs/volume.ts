import { recordFromCommand } from '../../audit/index.js';
import { ConflictError, NotFoundError } from '../../lib/index.js';
import {
  listVolumes,
  removeVolume,
  runtimeConfigFor,
  type VolumeInfo,
  volumesDirOf,
} from '../../runtime/index.js';
import type { RunSpec } from '../../spec/index.js';
import { openStateStore, type Workspace, workspaceExists } from '../../state/index.js';
import { ENV_OPTION, requireEnv, workspaceOf } from '../client.js';
import {
  actorOf,
  type Command,
  type CommandContext,
  FILE_OPTION,
  OUTPUT_OPTION,
  UsageError,
} from '../command.js';
import { specIfPresent } from '../workspace-anchor.js';

const USAGE = 'cairn volume ls [--env ENV] [-o json] | rm NAME --env ENV';

/** A volume as `volume ls` shows it. */
interface VolumeRow {
  env: string;
  name: string;
  sizeBytes: number;
  /** Services that declare it in cairn.yaml or whose live instances mount it. */
  services: string[];
  /** Live instances that mount it now. */
  mountedBy: string[];
}

export const command: Command = {
  name: 'volume',
  summary: 'List named volumes (size, services, instances mounting them) or remove one.',
  usage: USAGE,
  description: `Volumes are the folders run.volumes mounts read-write: one per name and environment, in
.cairn/volumes/<env>/<name>/, owned by the image user. They outlive instances, releases, rollbacks
and \`cairn down\`; nothing but \`cairn volume rm\` deletes one, and it is refused while a live
instance mounts the volume (stop it, or deploy a release without it, first). The removal is audited
(volume.remove, with the size). Works without a running control plane. See docs/data.md.
Exit 0, or 1 when there is no such volume or it is in use.`,
  options: { file: FILE_OPTION, env: ENV_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  async run(ctx) {
    const [action, name, ...rest] = ctx.args;
    if (action === 'ls' && name === undefined) return list(ctx);
    if (action === 'rm' && name !== undefined && rest.length === 0) return remove(ctx, name);
    throw new UsageError('managing volumes: say ls, or rm NAME --env ENV', USAGE);
  },
};

async function rows(ctx: CommandContext): Promise<{ ws: Workspace; rows: VolumeRow[] }> {
  const { specFile, ws } = workspaceOf(ctx);
  const onDisk = await listVolumes(volumesDirOf(runtimeConfigFor(ws)));
  const env = ctx.options.env as string | undefined;
  const mounts = workspaceExists(ws) ? liveMounts(ws) : [];
  const declared = declaredBy(specFile);
  const out = onDisk
    .filter((v) => env === undefined || v.env === env)
    .map((v: VolumeInfo) => {
      const using = mounts.filter((m) => m.env === v.env && m.volume === v.name);
      const services = new Set([...(declared.get(v.name) ?? []), ...using.map((m) => m.service)]);
      return {
        env: v.env,
        name: v.name,
        sizeBytes: v.sizeBytes,
        services: [...services].sort(),
        mountedBy: using.map((m) => m.instance),
      };
    });
  return { ws, rows: out };
}

async function list(ctx: CommandContext): Promise<number> {
  const { rows: volumes } = await rows(ctx);
  if (ctx.output === 'json') {
    ctx.stdout(`${JSON.stringify({ volumes }, null, 2)}\n`);
    return 0;
  }
  if (volumes.length === 0) {
    ctx.stdout('no volumes; an instance of a service with run.volumes makes them when it starts\n');
    return 0;
  }
  const table = [['ENV', 'NAME', 'SIZE', 'SERVICES', 'MOUNTED BY']];
  for (const v of volumes)
    table.push([v.env, v.name, size(v.sizeBytes), v.services.join(',') || '-', v.mountedBy.join(',') || '-']);
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table)
    ctx.stdout(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
  return 0;
}

async function remove(ctx: CommandContext, name: string): Promise<number> {
  const env = requireEnv(ctx, USAGE);
  const { ws, rows: volumes } = await rows(ctx);
  const volume = volumes.find((v) => v.name === name);
  if (!volume) {
    throw new NotFoundError(`removing volume ${name} of ${env}: there is no such volume`, {
      hint: `\`cairn volume ls --env ${env}\` lists the volumes of ${env}`,
    });
  }
  if (volume.mountedBy.length > 0) {
    throw new ConflictError(
      `removing volume ${name} of ${env}: ${volume.mountedBy.join(', ')} mount${volume.mountedBy.length === 1 ? 's' : ''} it`,
      { hint: 'deploy a release without this volume, or stop the service (replicas: 0), then remove it' },
    );
  }
  await removeVolume(volumesDirOf(runtimeConfigFor(ws)), env, name);
  recordFromCommand(ws, [
    {
      actor: actorOf(ctx),
      action: 'volume.remove',
      subject: { env },
      reason: 'cairn volume rm',
      detail: { name, sizeBytes: volume.sizeBytes },
    },
  ]);
  if (ctx.output === 'json')
    ctx.stdout(`${JSON.stringify({ removed: { env, name, sizeBytes: volume.sizeBytes } })}\n`);
  else ctx.stdout(`removed volume ${name} of ${env} (${size(volume.sizeBytes)})\n`);
  return 0;
}

/** Which live instance mounts which volume (from the release it runs). */
function liveMounts(ws: Workspace) {
  const state = openStateStore(ws);
  try {
    return state.listInstances({ live: true }).flatMap((i) => {
      const run = state.getRelease(i.releaseId)?.config.run as RunSpec | undefined;
      return (run?.volumes ?? []).map((v) => ({
        env: i.env,
        volume: v.name,
        service: i.service,
        instance: i.id,
      }));
    });
  } finally {
    state.close();
  }
}

/** Volume name → services of cairn.yaml that list it (none when there is no readable spec). */
function declaredBy(specFile: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  try {
    const spec = specIfPresent(specFile)?.spec;
    for (const [service, s] of Object.entries(spec?.services ?? {}))
      for (const v of s.run.volumes ?? []) out.set(v.name, [...(out.get(v.name) ?? []), service]);
  } catch {
    // An invalid spec only loses this column; `cairn validate` says what is wrong with it.
  }
  return out;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
