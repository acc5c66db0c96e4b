import {
  credentialsFromEnv,
  formatRegistryRef,
  parseRegistryRef,
  progressPrinter,
  pullImage,
  RegistryClient,
  workspaceStore,
} from '../../artifact/index.js';
import { pullSignatures } from '../../trust/index.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';
import { workspaceAnchor } from '../workspace-anchor.js';

const USAGE = 'cairn pull REGISTRY/REPO[:TAG|@DIGEST] [--insecure] [-f FILE] [--output json]';

export const command: Command = {
  name: 'pull',
  summary: 'Pull an image from a registry into .cairn/store, verifying every blob.',
  usage: USAGE,
  description: `Downloads the manifest, its config and its layers (skipping those the store has), checks
each against its digest before storing it, and names the image in the store with REF as given.
--insecure uses plain HTTP, for a registry on this machine only. Credentials as for cairn push.`,
  options: {
    insecure: { type: 'boolean', description: 'Plain HTTP, for a loopback registry only.' },
    file: FILE_OPTION,
    output: OUTPUT_OPTION,
  },
  async run(ctx) {
    const [refText] = ctx.args;
    if (!refText || ctx.args.length > 1) throw new UsageError('pulling: name exactly one REF', USAGE);
    const ref = parseRegistryRef(refText);
    const file = workspaceAnchor(ctx.options.file as string | undefined, ctx.cwd, ctx.env);
    const store = workspaceStore(file, ctx.env);
    const credentials = credentialsFromEnv(ctx.env);
    const client = new RegistryClient({
      registry: ref.registry,
      insecure: ctx.options.insecure === true,
      ...(credentials ? { credentials } : {}),
    });
    const progress = progressPrinter(ctx.stderr, ctx.output === 'text' && process.stderr.isTTY === true);
    const result = await pullImage(store, ref, client, progress);
    const name = formatRegistryRef(ref.tag || ref.digest ? ref : { ...ref, tag: 'latest' });
    await store.tag(name, result.descriptor);
    const signatures = await pullSignatures(store, result.descriptor.digest, ref.repository, client);
    if (ctx.output === 'json') {
      ctx.stdout(
        `${JSON.stringify({ ref: name, digest: result.descriptor.digest, fetched: result.fetched, signatures }, null, 2)}\n`,
      );
    } else {
      ctx.stdout(
        `pulled ${name} ${result.descriptor.digest} (${result.fetched.length} blob(s) downloaded${signatures.length ? `; signatures: ${signatures.join(', ')}` : ''})\n`,
      );
    }
    return 0;
  },
};
