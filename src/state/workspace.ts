/**
 * The workspace: `.cairn/` next to cairn.yaml (or `$CAIRN_HOME`), holding state.db, the image
 * store, keys, bundles and the API token. `initWorkspace` creates it; nothing else does.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConflictError, fromSystemError, NotFoundError } from '../lib/index.js';
import type { Migration } from './sqlite/migrations.js';
import { createSqliteStateStore, type SqliteStateStore } from './sqlite/sqlite-state-store.js';

export const WORKSPACE_DIR = '.cairn';

export interface Workspace {
  root: string;
  stateDb: string;
  store: string;
  keys: string;
  bundles: string;
  logs: string;
  tokenFile: string;
}

/**
 * Where the workspace for a spec file is (it may not exist yet). One that exists but that this user
 * cannot read is refused here, so no command mistakes it for an empty or missing one.
 */
export function workspaceFor(specFile: string, env: NodeJS.ProcessEnv = process.env): Workspace {
  const root = env.CAIRN_HOME ? resolve(env.CAIRN_HOME) : join(dirname(resolve(specFile)), WORKSPACE_DIR);
  assertReadable(root);
  return {
    root,
    stateDb: join(root, 'state.db'),
    store: join(root, 'store'),
    keys: join(root, 'keys'),
    bundles: join(root, 'bundles'),
    logs: join(root, 'logs'),
    tokenFile: join(root, 'api-token'),
  };
}

function assertReadable(root: string): void {
  if (!existsSync(root)) return;
  try {
    accessSync(root, constants.R_OK | constants.X_OK);
  } catch (error) {
    throw fromSystemError(error, 'opening the workspace') ?? error;
  }
}

export function workspaceExists(ws: Workspace): boolean {
  return existsSync(ws.stateDb);
}

/** Creates the workspace; refuses when one exists. Secrets (the token) are written at mode 0600. */
export function initWorkspace(ws: Workspace, migrations: Migration[] = []): { token: string } {
  if (existsSync(ws.root)) {
    throw new ConflictError(`creating ${ws.root}: a workspace already exists there`, {
      hint: 'cairn init never overwrites a workspace; remove it yourself if you really mean to start over',
    });
  }
  mkdirSync(ws.root, { recursive: true, mode: 0o700 });
  for (const dir of [ws.store, ws.keys, ws.bundles, ws.logs]) mkdirSync(dir, { mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  writeFileSync(ws.tokenFile, `${token}\n`, { mode: 0o600, flag: 'wx' });
  openStateStore(ws, migrations).close();
  return { token };
}

/** Opens state.db of an existing workspace. */
export function openStateStore(
  ws: Workspace,
  migrations: Migration[] = [],
  options: { quickCheck?: boolean } = {},
): SqliteStateStore {
  if (!existsSync(ws.root)) {
    throw new NotFoundError(`opening the workspace: ${ws.root} does not exist`, {
      hint: 'run `cairn init` first',
    });
  }
  return createSqliteStateStore({ path: ws.stateDb, migrations, ...options });
}
