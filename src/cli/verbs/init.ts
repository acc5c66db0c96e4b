import { join, resolve } from 'node:path';
import { auditPublicKeyPath, createAuditKey, recordWorkspaceInit } from '../../audit/index.js';
import { identityKeyPath, loadOrCreateIdentityKey } from '../../drift/index.js';
import { CA_CERT_FILE, createWorkloadCa } from '../../identity/index.js';
import { findSpecFile, SPEC_FILE } from '../../spec/index.js';
import { initWorkspace, workspaceFor } from '../../state/index.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

export const command: Command = {
  name: 'init',
  summary: 'Create the .cairn/ workspace: state database, image store, keys folder, API token.',
  usage: 'cairn init [-f FILE] [--output json]',
  description: `Creates .cairn/ next to cairn.yaml (or at $CAIRN_HOME): state.db, the image store, keys/ with
the audit log's Ed25519 key (public half keys/audit.pub), the workload CA that issues every
instance's SPIFFE identity (keys/workload-ca.key, mode 0600; its bundle keys/workload-ca.pem), the
identity key that keys the hashes of secrets in release pins (keys/identity-hmac.key, mode 0600, so
\`cairn plan\` can name the release a deploy would make), and the API token at .cairn/api-token,
mode 0600, never printed. Refuses to touch an existing workspace.`,
  options: { file: FILE_OPTION, output: OUTPUT_OPTION },
  async run(ctx) {
    let file: string;
    try {
      file = findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
    } catch {
      file = resolve(ctx.cwd, SPEC_FILE);
    }
    const ws = workspaceFor(file, ctx.env);
    initWorkspace(ws);
    createAuditKey(ws.keys);
    await createWorkloadCa(ws.keys);
    await loadOrCreateIdentityKey(identityKeyPath(ws.bundles));
    recordWorkspaceInit(ws);
    const auditKey = auditPublicKeyPath(ws.keys);
    if (ctx.output === 'json') {
      ctx.stdout(
        `${JSON.stringify({ workspace: ws.root, tokenFile: ws.tokenFile, auditPublicKey: auditKey, trustBundle: join(ws.keys, CA_CERT_FILE) })}\n`,
      );
    } else {
      ctx.stdout(
        `created workspace ${ws.root}\n  API token: ${ws.tokenFile} (mode 0600)\n  audit key: ${auditKey} (give it to your auditors)\n  workload CA bundle: ${join(ws.keys, CA_CERT_FILE)}\n`,
      );
    }
    return 0;
  },
};
