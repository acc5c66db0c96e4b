import { resolve } from 'node:path';
import { createAuditKey, recordWorkspaceInit } from '../../audit/index.js';
import { findSpecFile, SPEC_FILE } from '../../spec/index.js';
import { initWorkspace, workspaceFor } from '../../state/index.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

export const command: Command = {
  name: 'init',
  summary: 'Create the .cairn/ workspace: state database, image store, keys folder, API token.',
  usage: 'cairn init [-f FILE] [--output json]',
  description: `Creates .cairn/ next to cairn.yaml (or at $CAIRN_HOME). The API token is written to
.cairn/api-token at mode 0600 and never printed. Refuses to touch an existing workspace.`,
  options: { file: FILE_OPTION, output: OUTPUT_OPTION },
  run(ctx) {
    let file: string;
    try {
      file = findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
    } catch {
      file = resolve(ctx.cwd, SPEC_FILE);
    }
    const ws = workspaceFor(file, ctx.env);
    initWorkspace(ws);
    createAuditKey(ws.keys);
    recordWorkspaceInit(ws);
    if (ctx.output === 'json')
      ctx.stdout(`${JSON.stringify({ workspace: ws.root, tokenFile: ws.tokenFile })}\n`);
    else ctx.stdout(`created workspace ${ws.root}\n  API token: ${ws.tokenFile} (mode 0600)\n`);
    return 0;
  },
};
