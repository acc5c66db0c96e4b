import { resolve } from 'node:path';
import { type BuildResult, buildImage, formatBytes, workspaceStore } from '../../artifact/index.js';
import { recordFromCommand } from '../../audit/index.js';
import { ValidationError } from '../../lib/index.js';
import { findSpecFile, loadSpec } from '../../spec/index.js';
import { workspaceFor } from '../../state/index.js';
import { attestImage, defaultSigningKeyFile, loadSigningKey, type SigningKey } from '../../trust/index.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

/** The key to sign and attest with: --key, else .cairn/keys/cairn.key when it exists, else none. */
function signingKey(ctx: CommandContext, specFile: string): SigningKey | undefined {
  const file =
    typeof ctx.options.key === 'string'
      ? resolve(ctx.cwd, ctx.options.key)
      : defaultSigningKeyFile(specFile, ctx.env);
  if (!file) return undefined;
  const { key, warnings } = loadSigningKey(file);
  for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
  return key;
}

/** SOURCE_DATE_EPOCH from the environment (whole seconds ≥ 0), default 0. */
function sourceDateEpoch(env: NodeJS.ProcessEnv): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+$/.test(raw)) {
    throw new ValidationError(`reading SOURCE_DATE_EPOCH: "${raw}" is not whole seconds since 1970`, [], {
      hint: 'set it to an integer such as $(git log -1 --format=%ct), or unset it for 0',
    });
  }
  return Number(raw);
}

function renderText(r: BuildResult): string {
  const cached = r.layers.filter((l) => l.cached).length;
  const lines = [
    `${r.service}  ${r.digest}  ${r.ref}  (${r.layers.length} layers, ${cached} cached, ${r.seconds}s)`,
  ];
  for (const l of r.layers) {
    lines.push(
      `  ${l.role.padEnd(12)} ${l.digest.slice(7, 19)}  ${formatBytes(l.size).padStart(9)}  ${l.cached ? 'cached' : 'built'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function run(ctx: CommandContext): Promise<number> {
  const file = findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
  const loaded = loadSpec(file);
  const services = ctx.args.length > 0 ? ctx.args : Object.keys(loaded.spec.services).sort();
  const store = workspaceStore(file, ctx.env);
  const epoch = sourceDateEpoch(ctx.env);
  const key = signingKey(ctx, file);
  const results: BuildResult[] = [];
  const signed = new Map<string, { keyId: string; sbomComponents: number }>();
  for (const service of services) {
    const startedOn = new Date();
    const r = await buildImage(loaded, service, { store, sourceDateEpoch: epoch });
    results.push(r);
    if (ctx.output === 'text') ctx.stdout(renderText(r));
    if (!key) continue;
    const a = await attestImage(store, r.descriptor, {
      key,
      reference: service,
      spec: loaded,
      service,
      startedOn,
    });
    signed.set(service, { keyId: key.keyId, sbomComponents: a.components });
    if (ctx.output === 'text')
      ctx.stdout(
        `  signed with key ${key.keyId.slice(0, 12)}; SBOM (${a.components} components) and provenance attached\n`,
      );
  }
  recordFromCommand(
    workspaceFor(file, ctx.env),
    results.map((r) => ({
      action: 'image.build',
      subject: { service: r.service, image: r.digest },
      digestAfter: r.digest,
      detail: {
        ref: r.ref,
        base: r.base.digest,
        layers: r.layers.length,
        cachedLayers: r.layers.filter((l) => l.cached).length,
        ...(signed.has(r.service) ? { signedBy: signed.get(r.service)!.keyId } : {}),
      },
    })),
  );
  if (ctx.output === 'json') {
    const images = results.map((r) => ({
      service: r.service,
      digest: r.digest,
      ref: r.ref,
      layers: r.layers.map(({ digest, size, cached }) => ({ digest, size, cached })),
      seconds: r.seconds,
      ...(signed.has(r.service) ? { signed: signed.get(r.service) } : {}),
    }));
    ctx.stdout(`${JSON.stringify({ images }, null, 2)}\n`);
  }
  return 0;
}

export const command: Command = {
  name: 'build',
  summary: 'Build reproducible OCI images of services into .cairn/store (no daemon needed).',
  usage: 'cairn build [SERVICE…] [--key KEY] [-f FILE] [--output json]',
  description: `Builds each named service (default: all) into the workspace's image store, an OCI image
layout. Layers, in order: base, dependencies (npm ci --omit=dev from package-lock.json, when
present), application files (build.include), configuration files (build.files). A layer is rebuilt
only when its inputs changed. Same inputs give the same digest: file times are SOURCE_DATE_EPOCH
(default 0). Each image is tagged <service>:latest. Needs a workspace: run \`cairn init\` first.`,
  options: {
    key: {
      type: 'string',
      value: 'KEY',
      description:
        'Sign the image and attach its SBOM and provenance (default: .cairn/keys/cairn.key when it exists).',
    },
    file: FILE_OPTION,
    output: OUTPUT_OPTION,
  },
  readsState: true,
  run,
};
