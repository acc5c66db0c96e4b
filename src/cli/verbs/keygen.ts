import { resolve } from 'node:path';
import { recordFromCommand } from '../../audit/index.js';
import { findSpecFile, SPEC_FILE } from '../../spec/index.js';
import { type Workspace, workspaceFor } from '../../state/index.js';
import {
  DEFAULT_KEY_NAME,
  DEFAULT_KEY_TYPE,
  generateKeyPair,
  KEY_TYPES,
  type KeyType,
  workspaceKeysDir,
  writeKeyPair,
} from '../../trust/index.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';

const USAGE = 'cairn keygen [--type ecdsa-p256|ed25519] [--name NAME] [--dir DIR] [--output json]';

function keysDir(ctx: CommandContext): string {
  if (typeof ctx.options.dir === 'string') return resolve(ctx.cwd, ctx.options.dir);
  if (ctx.env.CAIRN_HOME) return workspaceKeysDir(resolve(ctx.cwd, SPEC_FILE), ctx.env);
  return workspaceKeysDir(findSpecFile(ctx.options.file as string | undefined, ctx.cwd), ctx.env);
}

function workspaceOfKeys(ctx: CommandContext, dir: string): Workspace | undefined {
  try {
    const specFile = ctx.env.CAIRN_HOME
      ? resolve(ctx.cwd, SPEC_FILE)
      : findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
    const ws = workspaceFor(specFile, ctx.env);
    return ws.keys === dir ? ws : undefined;
  } catch {
    return undefined;
  }
}

export const command: Command = {
  name: 'keygen',
  summary: 'Create a signing key pair (private key at mode 0600, public key in PEM).',
  usage: USAGE,
  description: `Writes NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub (SPKI PEM) into .cairn/keys/ (or
--dir). ECDSA P-256 with SHA-256 is the default: cosign's default, and plain openssl verifies it.
Never overwrites a key and never prints the private key. \`cairn build\` signs with .cairn/keys/cairn.key
when it exists. Exit 0 on success, 1 when a key of that name exists.`,
  options: {
    type: { type: 'string', value: 'TYPE', description: 'ecdsa-p256 or ed25519.', default: DEFAULT_KEY_TYPE },
    name: {
      type: 'string',
      value: 'NAME',
      description: 'File name without extension.',
      default: DEFAULT_KEY_NAME,
    },
    dir: { type: 'string', value: 'DIR', description: 'Folder for the key files (default: .cairn/keys).' },
    file: FILE_OPTION,
    output: OUTPUT_OPTION,
  },
  run(ctx) {
    const type = ctx.options.type as string;
    if (!(KEY_TYPES as readonly string[]).includes(type)) {
      throw new UsageError(`reading --type: "${type}" is not ${KEY_TYPES.join(' or ')}`, USAGE);
    }
    const pair = generateKeyPair(type as KeyType);
    const dir = keysDir(ctx);
    const files = writeKeyPair(dir, ctx.options.name as string, pair);
    // A key made in a workspace is recorded there (its id and public half, never the private key).
    const ws = workspaceOfKeys(ctx, dir);
    if (ws) {
      recordFromCommand(ws, [
        {
          action: 'key.create',
          subject: {},
          detail: { purpose: 'signing', keyId: pair.keyId, type, publicKeyFile: files.publicKeyFile },
        },
      ]);
    }
    if (ctx.output === 'json') {
      ctx.stdout(`${JSON.stringify({ type, keyId: pair.keyId, ...files })}\n`);
    } else {
      ctx.stdout(
        `created ${type} key pair ${pair.keyId.slice(0, 12)}\n  private key: ${files.privateKeyFile} (mode 0600, keep it secret)\n  public key:  ${files.publicKeyFile}\n`,
      );
    }
    return 0;
  },
};
