import {
  createPublisher,
  credentialsFromEnv,
  parseRegistryRef,
  progressPrinter,
  RegistryClient,
  resolveImage,
  workspaceStore,
} from '../../artifact/index.js';
import { recordFromCommand } from '../../audit/index.js';
import { workspaceFor } from '../../state/index.js';
import { pushSignatures } from '../../trust/index.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';
import { specIfPresent, workspaceAnchor } from '../workspace-anchor.js';

const USAGE = 'cairn push IMAGE --to REGISTRY/REPO[:TAG]|oci:PATH:REF [--insecure] [-f FILE] [--output json]';

export const command: Command = {
  name: 'push',
  summary: 'Push an image from .cairn/store to a registry (OCI distribution API) or another OCI layout.',
  usage: USAGE,
  description: `IMAGE is a service name (its latest build), a store ref, a digest or a unique digest prefix.
Blobs the registry already has are skipped; large layers go up in chunks; the manifest goes last, so
a failed push never leaves a tag pointing at missing content. --insecure uses plain HTTP and is only
accepted for a registry on this machine. Credentials: CAIRN_REGISTRY_USERNAME and
CAIRN_REGISTRY_PASSWORD (basic auth, or exchanged for a bearer token when the registry asks).
--to oci:PATH:REF copies the image into another OCI image layout instead.`,
  options: {
    to: { type: 'string', value: 'REGISTRY/REPO[:TAG]|oci:PATH:REF', description: 'Where to push.' },
    insecure: { type: 'boolean', description: 'Plain HTTP, for a loopback registry only.' },
    file: FILE_OPTION,
    output: OUTPUT_OPTION,
  },
  async run(ctx) {
    const [image] = ctx.args;
    if (!image || ctx.args.length > 1) throw new UsageError('pushing: name exactly one IMAGE', USAGE);
    if (typeof ctx.options.to !== 'string')
      throw new UsageError('pushing: say where with --to REGISTRY/REPO[:TAG]', USAGE);
    const credentials = credentialsFromEnv(ctx.env);
    const insecure = ctx.options.insecure === true;
    const publisher = createPublisher(ctx.options.to, { insecure, credentials, baseDir: ctx.cwd });
    const file = workspaceAnchor(ctx.options.file as string | undefined, ctx.cwd, ctx.env);
    const store = workspaceStore(file, ctx.env);
    const descriptor = await resolveImage(store, image, specIfPresent(file)?.spec);
    const progress = progressPrinter(ctx.stderr, ctx.output === 'text' && process.stderr.isTTY === true);
    const result = await publisher.publish(store, descriptor, progress);
    // Signatures and attestations travel with the image (cosign tag scheme, referrers tag).
    let signatures: string[] = [];
    if (publisher.kind === 'registry') {
      const target = parseRegistryRef(ctx.options.to);
      const client = new RegistryClient({
        registry: target.registry,
        insecure,
        ...(credentials ? { credentials } : {}),
      });
      signatures = await pushSignatures(store, result.digest, target.repository, client);
    }
    recordFromCommand(workspaceFor(file, ctx.env), [
      {
        action: 'image.push',
        subject: { image: result.digest },
        digestAfter: result.digest,
        detail: { destination: publisher.destination, signatures: signatures.length },
      },
    ]);
    if (ctx.output === 'json') ctx.stdout(`${JSON.stringify({ ...result, signatures }, null, 2)}\n`);
    else {
      const counts = `${result.uploaded.length} blob(s) uploaded, ${result.skipped.length} already there`;
      const signed = signatures.length ? `; signatures: ${signatures.join(', ')}` : '';
      ctx.stdout(`pushed ${publisher.destination} ${result.digest} (${counts}${signed})\n`);
    }
    return 0;
  },
};
