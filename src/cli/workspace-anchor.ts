/**
 * Where a command that needs only the workspace (images, signatures) finds it: next to cairn.yaml
 * when there is one, else at $CAIRN_HOME, else the nearest `.cairn/` in this folder or a parent.
 * A production host that receives artifacts has a workspace from `cairn init` and no build spec.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { NotFoundError } from '../lib/index.js';
import { findSpecFile, type LoadedSpec, loadSpec, SPEC_FILE } from '../spec/index.js';
import { WORKSPACE_DIR, type Workspace, workspaceExists, workspaceFor } from '../state/index.js';

/** The spec path the workspace hangs off (it may not exist); throws when there is no workspace. */
export function workspaceAnchor(file: string | undefined, cwd: string, env: NodeJS.ProcessEnv): string {
  if (file) return file;
  try {
    return findSpecFile(undefined, cwd);
  } catch {
    if (env.CAIRN_HOME) return resolve(cwd, SPEC_FILE);
    for (let dir = resolve(cwd); ; dir = dirname(dir)) {
      if (existsSync(join(dir, WORKSPACE_DIR))) return join(dir, SPEC_FILE);
      if (dirname(dir) === dir) break;
    }
  }
  throw new NotFoundError(
    `finding a workspace: no ${SPEC_FILE} and no ${WORKSPACE_DIR}/ in this folder or its parents`,
    {
      hint: 'run `cairn init` here (a host that only receives artifacts needs no cairn.yaml), or pass -f path/to/cairn.yaml',
    },
  );
}

/** The spec at `file` when there is one there; a workspace without cairn.yaml gives undefined. */
export function specIfPresent(file: string): LoadedSpec | undefined {
  return existsSync(file) ? loadSpec(file) : undefined;
}

/** The initialised workspace a command that keeps its own data there (secrets, tokens) works in. */
export function initialisedWorkspace(
  file: string | undefined,
  cwd: string,
  env: NodeJS.ProcessEnv,
  opening: string,
): Workspace {
  const ws = workspaceFor(workspaceAnchor(file, cwd, env), env);
  if (!workspaceExists(ws)) {
    throw new NotFoundError(`opening ${opening}: this workspace has not been initialised`, {
      hint: 'run `cairn init` first',
    });
  }
  return ws;
}
