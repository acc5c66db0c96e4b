import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { recordFromCommand } from '../../audit/index.js';
import { CairnError, ConflictError, diskFullError, NotFoundError } from '../../lib/index.js';
import {
  isPin,
  MAX_SECRET_BYTES,
  openLocalStore,
  SECRETS_DB_FILE,
  type Written,
} from '../../secrets/index.js';
import { openStateStore, type Workspace } from '../../state/index.js';
import {
  actorOf,
  type Command,
  type CommandContext,
  FILE_OPTION,
  OUTPUT_OPTION,
  UsageError,
} from '../command.js';
import { readSecretValue } from '../secret-input.js';
import { initialisedWorkspace } from '../workspace-anchor.js';

const USAGE =
  'cairn secret set NAME [--from-file F] | rotate NAME [--from-file F | --generate] | list | rm NAME [-f FILE]';
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Bytes of a generated value (base64url-encoded, 43 characters). */
const GENERATED_BYTES = 32;

export const command: Command = {
  name: 'secret',
  summary: 'Store, rotate, list and remove secrets (encrypted; values never printed).',
  usage: USAGE,
  description: `set NAME stores a new secret as v1; rotate NAME adds the next version; the value is read
from stdin (piped, or typed at a hidden prompt) or --from-file, byte for byte, never from the
command line. --generate makes a random value instead (32 bytes, base64url) and never shows it.
list shows names, versions, dates, the store key id and which running releases pin which
version, never values. rm NAME removes every version; it is refused while a release that serves
pins the secret.
Values are sealed with AES-256-GCM under .cairn/keys/secrets.key (0600) in .cairn/secrets.db.
A release pins the version current at deploy: a rotation reaches instances only through a new
deploy (a replacement rollout), which you can see in plan, roll back and audit. See docs/secrets.md.
Exit 0 on success, 1 on bad input.`,
  options: {
    file: FILE_OPTION,
    'from-file': { type: 'string', value: 'F', description: 'Read the value from this file (as is).' },
    generate: { type: 'boolean', description: 'rotate/set: generate a random value (never shown).' },
    output: OUTPUT_OPTION,
  },
  readsState: true,
  async run(ctx) {
    const [action, name, ...rest] = ctx.args;
    const ws = workspaceOf(ctx);
    if (action === 'list' && name === undefined) return list(ctx, ws);
    if (action !== 'set' && action !== 'rotate' && action !== 'rm') {
      throw new UsageError('managing secrets: say set, rotate, list or rm', USAGE);
    }
    if (name?.includes('=') || rest.length > 0) throw valueOnCommandLine(action, name!.split('=')[0]!);
    if (!name || !NAME.test(name)) {
      throw new UsageError(
        `${action === 'rm' ? 'removing' : 'storing'} a secret: name it with letters, digits and "_" (e.g. DB_PASSWORD)`,
        USAGE,
      );
    }
    if (action === 'rm') return remove(ctx, ws, name);
    return write(ctx, ws, action, name);
  },
};

function workspaceOf(ctx: CommandContext): Workspace {
  return initialisedWorkspace(ctx.options.file as string | undefined, ctx.cwd, ctx.env, 'the secret store');
}

function valueOnCommandLine(action: string, name: string): CairnError {
  return new CairnError(
    'secret_on_command_line',
    `${action === 'rotate' ? 'rotating' : 'setting'} secret ${name}: refusing a value on the command line (value not shown)`,
    {
      hint: `a value in the arguments stays in shell history and shows in \`ps\`; pipe it instead: \`cairn secret ${action} ${name} < file\`, or use --from-file`,
    },
  );
}

async function write(
  ctx: CommandContext,
  ws: Workspace,
  action: 'set' | 'rotate',
  name: string,
): Promise<number> {
  const doing = action === 'set' ? 'setting' : 'rotating';
  const value = ctx.options.generate
    ? Buffer.from(randomBytes(GENERATED_BYTES).toString('base64url'))
    : await valueFrom(ctx, name, doing);
  if (value.length === 0)
    throw new CairnError('empty_secret', `${doing} secret ${name}: the value is empty`, {
      hint: 'pipe the value on stdin or name a file with --from-file',
    });
  if (value.length > MAX_SECRET_BYTES) {
    throw new CairnError(
      'secret_too_large',
      `${doing} secret ${name}: the value has ${value.length} bytes, more than ${MAX_SECRET_BYTES}`,
      {
        hint: 'a secret is a password, token or key; bake larger files into the image',
      },
    );
  }
  let stored: Written;
  try {
    const store = openLocalStore(ws, true);
    try {
      stored =
        action === 'set'
          ? store.set(name, value, actorOf(ctx), new Date())
          : store.rotate(name, value, actorOf(ctx), new Date());
    } finally {
      store.close();
    }
  } catch (error) {
    throw diskFullError(error, `${doing} secret ${name}`, join(ws.root, SECRETS_DB_FILE)) ?? error;
  }
  value.fill(0);
  const keyId = stored.keyId;
  recordFromCommand(ws, [
    { action: `secret.${action}`, subject: {}, detail: { name, version: stored.version, keyId } },
  ]);
  const pinned = pinsOf(ws).filter((p) => p.name === name);
  if (ctx.output === 'json') {
    ctx.stdout(`${JSON.stringify({ name, version: stored.version, keyId, pinnedBy: pinned }, null, 2)}\n`);
    return 0;
  }
  ctx.stdout(
    `${action === 'set' ? 'stored' : 'rotated'} secret ${name}: ${stored.version} (sealed with ${keyId})\n`,
  );
  for (const p of pinned) {
    ctx.stdout(
      `  ${p.service} in ${p.env} runs ${p.version}: \`cairn deploy ${p.service} --env ${p.env}\` rolls ${stored.version} out\n`,
    );
  }
  return 0;
}

async function valueFrom(ctx: CommandContext, name: string, doing: string): Promise<Buffer> {
  const file = ctx.options['from-file'] as string | undefined;
  if (file === undefined) return readSecretValue(`value for ${name} (not shown): `, ctx.stderr);
  try {
    return readFileSync(resolve(ctx.cwd, file));
  } catch (error) {
    throw new NotFoundError(
      `${doing} secret ${name}: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`,
      {
        hint: 'name a file you can read, or pipe the value on stdin',
      },
    );
  }
}

function remove(ctx: CommandContext, ws: Workspace, name: string): number {
  const users = pinsOf(ws).filter((p) => p.name === name);
  if (users.length > 0) {
    throw new ConflictError(
      `removing secret ${name}: ${users.map((u) => `${u.service} in ${u.env}`).join(', ')} pin${users.length === 1 ? 's' : ''} it`,
      {
        hint: 'deploy a release that no longer lists it in run.secrets first; a rollback may still need its versions',
      },
    );
  }
  const store = openLocalStore(ws);
  let versions: number;
  try {
    versions = store.remove(name);
  } finally {
    store.close();
  }
  recordFromCommand(ws, [{ action: 'secret.remove', subject: {}, detail: { name, versions } }]);
  if (ctx.output === 'json') ctx.stdout(`${JSON.stringify({ name, removed: versions }, null, 2)}\n`);
  else ctx.stdout(`removed secret ${name} (${versions} version${versions === 1 ? '' : 's'})\n`);
  return 0;
}

function list(ctx: CommandContext, ws: Workspace): number {
  const store = openLocalStore(ws);
  const secrets = (() => {
    try {
      return store.list();
    } finally {
      store.close();
    }
  })();
  const pins = pinsOf(ws);
  const rows = secrets.map((s) => ({ ...s, pinnedBy: pins.filter((p) => p.name === s.name) }));
  if (ctx.output === 'json') {
    ctx.stdout(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    ctx.stdout('no secrets stored; add one with `cairn secret set NAME` (the value on stdin)\n');
    return 0;
  }
  const table = [['NAME', 'VERSION', 'VERSIONS', 'UPDATED', 'KEY', 'PINNED BY']];
  for (const r of rows) {
    const by = r.pinnedBy.map((p) => `${p.service}@${p.env}:${p.version}`).join(', ') || '-';
    table.push([
      r.name,
      r.version,
      String(r.versions),
      r.updatedAt.slice(0, 19).replace('T', ' '),
      r.keyId,
      by,
    ]);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table)
    ctx.stdout(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
  return 0;
}

/** The secret versions the releases that serve now pin, per service and environment. */
function pinsOf(ws: Workspace): Array<{ name: string; version: string; service: string; env: string }> {
  const state = openStateStore(ws);
  try {
    return state.listTargets().flatMap((t) => {
      const secrets = (
        (state.getRelease(t.releaseId)?.config.run as { secrets?: unknown[] })?.secrets ?? []
      ).filter(isPin);
      const seen = new Set<string>();
      return secrets.flatMap((p) => {
        if (seen.has(p.name)) return [];
        seen.add(p.name);
        return [{ name: p.name, version: p.version, service: t.service, env: t.env }];
      });
    });
  } finally {
    state.close();
  }
}
