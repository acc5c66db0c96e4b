import { resolve } from 'node:path';
import { resolveImage, workspaceStore } from '../../artifact/index.js';
import { recordFromCommand } from '../../audit/index.js';
import { NotFoundError } from '../../lib/index.js';
import { findSpecFile, type LoadedSpec, loadSpec } from '../../spec/index.js';
import { workspaceFor } from '../../state/index.js';
import { attestImage, defaultSigningKeyFile, loadSigningKey, signImage } from '../../trust/index.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';

const USAGE = 'cairn sign IMAGE [--key KEY] [--attest] [--reference REF] [-f FILE] [--output json]';

function specOrNothing(file: string): LoadedSpec | undefined {
  try {
    return loadSpec(file);
  } catch {
    return undefined;
  }
}

function keyFile(ctx: CommandContext, specFile: string): string {
  if (typeof ctx.options.key === 'string') return resolve(ctx.cwd, ctx.options.key);
  const file = defaultSigningKeyFile(specFile, ctx.env);
  if (!file) {
    throw new NotFoundError('signing: no --key given and no .cairn/keys/cairn.key', {
      hint: 'create one with `cairn keygen`, or pass --key path/to/key',
    });
  }
  return file;
}

async function run(ctx: CommandContext): Promise<number> {
  const [image] = ctx.args;
  if (!image || ctx.args.length > 1) throw new UsageError('signing: name exactly one IMAGE', USAGE);
  const specFile = findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
  const { key, warnings } = loadSigningKey(keyFile(ctx, specFile));
  for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
  const store = workspaceStore(specFile, ctx.env);
  const loaded = specOrNothing(specFile);
  const descriptor = await resolveImage(store, image, loaded?.spec);
  const service = loaded?.spec.services[image] ? image : undefined;
  const reference = typeof ctx.options.reference === 'string' ? ctx.options.reference : image;
  const result = ctx.options.attest
    ? await attestImage(store, descriptor, {
        key,
        reference,
        ...(loaded ? { spec: loaded } : {}),
        ...(service ? { service } : {}),
      })
    : await signImage(store, descriptor, key, reference);
  const out = { image: descriptor.digest, keyId: key.keyId, ...result };
  recordFromCommand(workspaceFor(specFile, ctx.env), [
    {
      action: 'image.sign',
      subject: { image: descriptor.digest, ...(service ? { service } : {}) },
      digestAfter: descriptor.digest,
      detail: { keyId: key.keyId, reference, attested: 'sbom' in result },
    },
  ]);
  if (ctx.output === 'json') ctx.stdout(`${JSON.stringify(out, null, 2)}\n`);
  else {
    const attested = 'sbom' in result ? ', SBOM and provenance attached' : '';
    ctx.stdout(
      `signed ${descriptor.digest} with key ${key.keyId.slice(0, 12)} (cosign .sig and sigstore bundle${attested})\n`,
    );
  }
  return 0;
}

export const command: Command = {
  name: 'sign',
  summary: 'Sign an image in the store (cosign .sig tag and a Sigstore bundle referrer).',
  usage: USAGE,
  description: `Signs the image's manifest digest two standard ways, both kept in .cairn/store and pushed with
the image: cosign's simple-signing payload with the signature in the dev.cosignproject.cosign/signature
annotation of the manifest tagged sha256-<hex>.sig, and a Sigstore bundle v0.3 (DSSE over an in-toto
statement) attached as an OCI referrer. --attest also attaches the SBOM (CycloneDX, computed from the
layers) and SLSA v1 provenance. The key defaults to .cairn/keys/cairn.key.`,
  options: {
    key: { type: 'string', value: 'KEY', description: 'Private key (PEM) to sign with.' },
    attest: { type: 'boolean', description: 'Also attach the SBOM and SLSA provenance.' },
    reference: {
      type: 'string',
      value: 'REF',
      description: 'How the signature names the image (default: IMAGE).',
    },
    file: FILE_OPTION,
    output: OUTPUT_OPTION,
  },
  run,
};
