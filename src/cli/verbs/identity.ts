import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { recordFromCommand } from '../../audit/index.js';
import { CA_CERT_FILE, CA_KEY_FILE, createWorkloadCa, loadWorkloadCa } from '../../identity/index.js';
import { NotFoundError } from '../../lib/index.js';
import { workspaceOf } from '../client.js';
import { actorOf, type Command, type CommandContext, FILE_OPTION, UsageError } from '../command.js';

const USAGE = 'cairn identity bundle | init-ca';

export const command: Command = {
  name: 'identity',
  summary: "Print the workload CA's trust bundle, or create the CA of a workspace made before identity.",
  usage: USAGE,
  description: `bundle   prints the workspace's trust bundle (PEM): what a peer verifies SVIDs with, e.g.
         \`openssl verify -CAfile bundle.pem svid.pem\`.
init-ca  creates the workload CA (keys/workload-ca.key, mode 0600) in a workspace made before
         workload identity existed; refused when the workspace has one. \`cairn init\` makes it for
         new workspaces. A lost CA key is never replaced silently: restore it from a backup.
See docs/identity.md. Works without a running control plane.`,
  options: { file: FILE_OPTION },
  async run(ctx) {
    const [action, ...rest] = ctx.args;
    if (rest.length === 0 && action === 'bundle') return bundle(ctx);
    if (rest.length === 0 && action === 'init-ca') return initCa(ctx);
    throw new UsageError('managing workload identity: say bundle or init-ca', USAGE);
  },
};

async function bundle(ctx: CommandContext): Promise<number> {
  const { ws } = workspaceOf(ctx);
  const ca = await loadWorkloadCa(ws.keys);
  ctx.stdout(ca.bundlePem.endsWith('\n') ? ca.bundlePem : `${ca.bundlePem}\n`);
  return 0;
}

async function initCa(ctx: CommandContext): Promise<number> {
  const { ws } = workspaceOf(ctx);
  if (!existsSync(ws.stateDb)) {
    throw new NotFoundError(`creating the workload CA: ${ws.root} is not a workspace`, {
      hint: 'run `cairn init` (it creates the CA)',
    });
  }
  const pem = await createWorkloadCa(ws.keys);
  recordFromCommand(ws, [
    {
      actor: actorOf(ctx),
      action: 'identity.ca.create',
      subject: {},
      reason: 'cairn identity init-ca',
      detail: { key: CA_KEY_FILE, bundleSha256: await bundleDigest(join(ws.keys, CA_CERT_FILE)) },
    },
  ]);
  ctx.stdout(`created the workload CA: ${join(ws.keys, CA_KEY_FILE)} (mode 0600)\n${pem}`);
  return 0;
}

async function bundleDigest(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}
