/** The image store of a project's workspace (`.cairn/store`), found from its cairn.yaml. */
import { existsSync } from 'node:fs';
import { NotFoundError } from '../lib/index.js';
import { workspaceFor } from '../state/index.js';
import { type ImageStore, openImageStore } from './layout-store.js';

/**
 * Opens `.cairn/store` of the workspace for `specFile`. With `requireWorkspace`, throws when the
 * workspace was never created (`cairn init` creates it, and refuses to adopt a half-made one).
 */
export function workspaceStore(
  specFile: string,
  env: NodeJS.ProcessEnv,
  requireWorkspace = true,
): ImageStore {
  const ws = workspaceFor(specFile, env);
  if (requireWorkspace && !existsSync(ws.root)) {
    throw new NotFoundError(`opening the image store: no workspace at ${ws.root}`, {
      hint: 'run `cairn init` first',
    });
  }
  return openImageStore(ws.store);
}
