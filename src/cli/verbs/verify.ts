import { resolve } from 'node:path';
import { resolveImage, workspaceStore } from '../../artifact/index.js';
import { isDigest } from '../../lib/index.js';
import { loadPublicKey, type VerifyReport, verifyForEnvironment, verifyImage } from '../../trust/index.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';
import { EXIT_DENIED, EXIT_OK } from '../errors.js';
import { specIfPresent, workspaceAnchor } from '../workspace-anchor.js';

const USAGE = 'cairn verify IMAGE (--key PUB… | --env ENV) [-f FILE] [--output json]';

async function report(ctx: CommandContext, specFile: string, image: string): Promise<VerifyReport> {
  const store = workspaceStore(specFile, ctx.env);
  const loaded = specIfPresent(specFile);
  // a full digest is verified as given: resolving it would read (and could trip over) the bytes under test
  const digest = isDigest(image) ? image : (await resolveImage(store, image, loaded?.spec)).digest;
  const env = ctx.options.env;
  if (typeof env === 'string') {
    if (!loaded) throw new UsageError(`verifying for ${env}: cairn.yaml could not be loaded`, USAGE);
    return verifyForEnvironment(store, digest, loaded, env);
  }
  const keys = ((ctx.options.key as string[] | undefined) ?? []).map((k) =>
    loadPublicKey(resolve(ctx.cwd, k)),
  );
  return verifyImage(store, digest, keys);
}

function renderText(r: VerifyReport): string {
  const lines = r.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(16)} ${c.detail}`);
  const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
  lines.push(r.verified ? `verified ${r.image}` : `not verified ${r.image}: ${failed.join(', ')} failed`);
  return `${lines.join('\n')}\n`;
}

async function run(ctx: CommandContext): Promise<number> {
  const [image] = ctx.args;
  if (!image || ctx.args.length > 1) throw new UsageError('verifying: name exactly one IMAGE', USAGE);
  const hasKeys = ((ctx.options.key as string[] | undefined) ?? []).length > 0;
  if (hasKeys === (typeof ctx.options.env === 'string')) {
    throw new UsageError(
      'verifying: give the trusted keys with --key PUB, or --env ENV for its trust policy',
      USAGE,
    );
  }
  const specFile = workspaceAnchor(ctx.options.file as string | undefined, ctx.cwd, ctx.env);
  const r = await report(ctx, specFile, image);
  if (ctx.output === 'json')
    ctx.stdout(`${JSON.stringify({ verified: r.verified, image: r.image, checks: r.checks }, null, 2)}\n`);
  else (r.verified ? ctx.stdout : ctx.stderr)(renderText(r));
  return r.verified ? EXIT_OK : EXIT_DENIED;
}

export const command: Command = {
  name: 'verify',
  summary: 'Verify an image: blobs, signature, attestations, SBOM against the layers, provenance.',
  usage: USAGE,
  description: `Checks, offline: every blob of the image matches its digest; a trusted key signed the manifest
digest (cosign .sig and the Sigstore bundle); every attestation is signed by a trusted key and is
about this image; the SBOM lists exactly what the layers contain; SLSA provenance is present.
--key may be repeated; --env ENV uses environments.ENV.trust.keys from cairn.yaml.
Exit 0 when verified, 3 when any check fails, 1 on bad input.`,
  options: {
    key: {
      type: 'string',
      value: 'PUB',
      multiple: true,
      description: 'A trusted public key (PEM); repeatable.',
    },
    env: { type: 'string', value: 'ENV', description: "Use this environment's trust policy." },
    file: FILE_OPTION,
    output: OUTPUT_OPTION,
  },
  readsState: true,
  run,
};
