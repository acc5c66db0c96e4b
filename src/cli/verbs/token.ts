import { recordFromCommand } from '../../audit/index.js';
import { isRole, ROLES, TokenStore } from '../../auth/index.js';
import { diskFullError } from '../../lib/index.js';
import { openStateStore, type Workspace } from '../../state/index.js';
import {
  actorOf,
  type Command,
  type CommandContext,
  FILE_OPTION,
  OUTPUT_OPTION,
  UsageError,
} from '../command.js';
import { initialisedWorkspace } from '../workspace-anchor.js';

const USAGE = 'cairn token create --name NAME --role viewer|operator | list | revoke NAME [-f FILE]';

export const command: Command = {
  name: 'token',
  summary: 'Create, list and revoke per-user tokens for the API and the dashboard (viewer or operator).',
  usage: USAGE,
  description: `create prints a new token once, on stdout: keep it, cairn stores only its SHA-256. A viewer
token reads (status, history, rollouts, audit) and cannot act; an operator token may also deploy,
promote, roll back, abort, pause and resume. Tokens work as a bearer token on the API and as the
dashboard's login; audit entries name the token's user ("alice@dashboard", "alice@api").
revoke NAME deletes the token and ends its dashboard sessions at once. The workspace's own
.cairn/api-token stays the CLI's (operator). Every create and revoke is audited.
Exit 0 on success, 1 on bad input (an unknown role, a name that already has a token).`,
  options: {
    file: FILE_OPTION,
    name: { type: 'string', value: 'NAME', description: 'create: who the token is for (e.g. alice).' },
    role: { type: 'string', value: 'ROLE', description: `create: ${ROLES.join(' or ')}.` },
    output: OUTPUT_OPTION,
  },
  readsState: true,
  run(ctx) {
    const [action, name, ...rest] = ctx.args;
    if (rest.length) throw new UsageError(`managing tokens: unexpected "${rest.join(' ')}"`, USAGE);
    const ws = workspaceOf(ctx);
    if (action === 'create' && name === undefined) return create(ctx, ws);
    if (action === 'list' && name === undefined) return list(ctx, ws);
    if (action === 'revoke' && name) return revoke(ctx, ws, name);
    throw new UsageError('managing tokens: say create --name NAME --role ROLE, list or revoke NAME', USAGE);
  },
};

function workspaceOf(ctx: CommandContext): Workspace {
  return initialisedWorkspace(ctx.options.file as string | undefined, ctx.cwd, ctx.env, 'the token list');
}

function withTokens<T>(ws: Workspace, action: string, fn: (tokens: TokenStore) => T): T {
  try {
    const store = openStateStore(ws);
    try {
      return fn(new TokenStore(store.db));
    } finally {
      store.close();
    }
  } catch (error) {
    throw diskFullError(error, action, ws.stateDb) ?? error;
  }
}

function create(ctx: CommandContext, ws: Workspace): number {
  const name = ctx.options.name as string | undefined;
  const role = ctx.options.role;
  if (!name) throw new UsageError('creating a token: say who it is for with --name NAME', USAGE);
  if (!isRole(role))
    throw new UsageError(
      `creating a token: --role must be ${ROLES.join(' or ')}${role === undefined ? '' : `, not "${String(role)}"`}`,
      USAGE,
    );
  const { token, info } = withTokens(ws, `creating a token for ${name}`, (t) =>
    t.create(name, role, actorOf(ctx)),
  );
  recordFromCommand(ws, [{ action: 'token.create', subject: {}, detail: { user: name, role } }]);
  if (ctx.output === 'json') {
    ctx.stdout(`${JSON.stringify({ ...info, token }, null, 2)}\n`);
    return 0;
  }
  ctx.stdout(`${token}\n`);
  ctx.stderr(
    `created a ${role} token for ${name}: it is shown only now (cairn keeps its hash); revoke it with \`cairn token revoke ${name}\`\n`,
  );
  return 0;
}

function list(ctx: CommandContext, ws: Workspace): number {
  const tokens = withTokens(ws, 'listing tokens', (t) => t.list());
  if (ctx.output === 'json') {
    ctx.stdout(`${JSON.stringify({ tokens }, null, 2)}\n`);
    return 0;
  }
  if (tokens.length === 0) {
    ctx.stdout(
      'no user tokens (the CLI uses .cairn/api-token); `cairn token create --name NAME --role viewer` makes one\n',
    );
    return 0;
  }
  for (const t of tokens)
    ctx.stdout(`${t.name.padEnd(16)} ${t.role.padEnd(9)} created ${t.createdAt} by ${t.createdBy}\n`);
  return 0;
}

function revoke(ctx: CommandContext, ws: Workspace, name: string): number {
  withTokens(ws, `revoking the token of ${name}`, (t) => t.revoke(name));
  recordFromCommand(ws, [{ action: 'token.revoke', subject: {}, detail: { user: name } }]);
  ctx.stdout(`revoked the token of ${name}; its dashboard sessions ended\n`);
  return 0;
}
