import { resolve } from 'node:path';
import { resolveImage, workspaceStore } from '../../artifact/index.js';
import { isDigest } from '../../lib/index.js';
import {
  attachedStatements,
  loadPublicKey,
  type PublicKeyInfo,
  trustedKeysFor,
  type VerifyReport,
  verifyForEnvironment,
  verifyImage,
} from '../../trust/index.js';
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

async function hintsFor(ctx: CommandContext, specFile: string, r: VerifyReport): Promise<string[]> {
  try {
    const store = workspaceStore(specFile, ctx.env);
    const loaded = specIfPresent(specFile);
    const env = ctx.options.env;
    const trusted =
      typeof env === 'string' && loaded
        ? trustedKeysFor(loaded, env)
        : ((ctx.options.key as string[] | undefined) ?? []).map((k) => loadPublicKey(resolve(ctx.cwd, k)));
    return verifyHints(r, await attachedStatements(store, r.image, trusted), trusted);
  } catch {
    return []; // hints are a help, never a second failure
  }
}

function renderText(r: VerifyReport, hints: string[]): string {
  const lines = r.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(16)} ${c.detail}`);
  const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
  lines.push(r.verified ? `verified ${r.image}` : `not verified ${r.image}: ${failed.join(', ')} failed`);
  lines.push(...hints.map((h) => `hint: ${h}`));
  return `${lines.join('\n')}\n`;
}

/** How to fix what failed: missing attestations name the command; an untrusted signer names the key ids found. */
export function verifyHints(
  r: VerifyReport,
  found: Array<{ keyId?: string }>,
  trusted: readonly PublicKeyInfo[],
): string[] {
  const failed = new Set(r.checks.filter((c) => !c.ok).map((c) => c.name));
  const hints: string[] = [];
  const ids = [...new Set(found.map((a) => a.keyId).filter((k): k is string => !!k))];
  const untrusted = ids.filter((id) => !trusted.some((k) => k.keyId === id));
  if (['signature', 'signature-bundle', 'attestations'].some((n) => failed.has(n)) && untrusted.length > 0) {
    hints.push(
      `the image is signed by key id(s) ${untrusted.join(', ')}, which ${trusted.length ? `are not among the trusted ${trusted.map((k) => k.keyId).join(', ')}` : 'no trusted key matches'}: pass that key's public half with --key, or sign with a trusted key (\`cairn sign IMAGE --key KEY\`)`,
    );
  }
  if (failed.has('sbom') || failed.has('provenance')) {
    hints.push(
      'attach the SBOM and provenance with `cairn sign IMAGE --key KEY --attest`, or build with a key (`cairn keygen`, then `cairn build`: it signs and attests)',
    );
  }
  if (failed.has('signature') && ids.length === 0) hints.push('sign it: `cairn sign IMAGE --key KEY`');
  return hints;
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
  const hints = r.verified ? [] : await hintsFor(ctx, specFile, r);
  if (ctx.output === 'json')
    ctx.stdout(`${JSON.stringify({ verified: r.verified, image: r.image, checks: r.checks }, null, 2)}\n`);
  else (r.verified ? ctx.stdout : ctx.stderr)(renderText(r, hints));
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
