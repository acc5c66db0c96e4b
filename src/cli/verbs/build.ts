import { resolve } from 'node:path';
import { type BuildResult, buildImage, formatBytes, workspaceStore } from '../../artifact/index.js';
import { recordFromCommand } from '../../audit/index.js';
import {
  buildGate,
  buildRequest,
  denialError,
  failureLine,
  type GateOutcome,
  type GateRequest,
} from '../../gates/index.js';
import { GateDeniedError, ValidationError } from '../../lib/index.js';
import { findSpecFile, loadSpec } from '../../spec/index.js';
import { workspaceFor } from '../../state/index.js';
import {
  attestImage,
  defaultSigningKeyFile,
  loadSigningKey,
  publicKeyOf,
  type SigningKey,
} from '../../trust/index.js';
import { actorOf, type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

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

function renderText(r: BuildResult, tagged: boolean, notes: string[]): string {
  const cached = r.layers.filter((l) => l.cached).length;
  const name = tagged ? r.ref : '(not tagged: refused by build policies)';
  const lines = [
    `${r.service}  ${r.digest}  ${name}  (${r.layers.length} layers, ${cached} cached, ${r.seconds}s)`,
  ];
  for (const l of r.layers) {
    lines.push(
      `  ${l.role.padEnd(12)} ${l.digest.slice(7, 19)}  ${formatBytes(l.size).padStart(9)}  ${l.cached ? 'cached' : 'built'}`,
    );
  }
  lines.push(...notes.map((n) => `  ${n}`));
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
  const denied: Array<{ req: GateRequest; outcome: GateOutcome }> = [];
  for (const service of services) {
    const startedOn = new Date();
    // Named only once the build-stage policies pass: a build that breaks policy is never `latest`.
    const r = await buildImage(loaded, service, { store, sourceDateEpoch: epoch, tag: false });
    // In JSON the warnings are part of the answer (`warnings`); in text they go to stderr.
    if (ctx.output === 'text') for (const w of r.warnings) ctx.stderr(`warning: ${w}\n`);
    results.push(r);
    const notes: string[] = [];
    if (key) {
      const a = await attestImage(store, r.descriptor, {
        key,
        reference: service,
        spec: loaded,
        service,
        startedOn,
      });
      signed.set(service, { keyId: key.keyId, sbomComponents: a.components });
      notes.push(
        `signed with key ${key.keyId.slice(0, 12)}; SBOM (${a.components} components) and provenance attached`,
      );
    }
    const req = buildRequest(loaded, service, r.digest, actorOf(ctx));
    const outcome = await buildGate(store, loaded, req, key ? [publicKeyOf(key)] : []);
    for (const w of outcome.warnings) ctx.stderr(`warning: ${w}\n`);
    if (outcome.allowed) {
      await store.tag(r.ref, r.descriptor);
      if (outcome.policies.length > 0)
        notes.push(`build policies passed: ${outcome.policies.map((p) => p.name).join(', ')}`);
    } else denied.push({ req, outcome });
    if (ctx.output === 'text') ctx.stdout(renderText(r, outcome.allowed, notes));
  }
  const refused = new Set(denied.map((d) => d.req.service));
  recordFromCommand(workspaceFor(file, ctx.env), [
    ...denied.map(({ req, outcome }) => deniedEvent(req, outcome)),
    ...results
      .filter((r) => !refused.has(r.service))
      .map((r) => ({
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
  ]);
  if (ctx.output === 'json') {
    const images = results.map((r) => ({
      service: r.service,
      digest: r.digest,
      ref: r.ref,
      layers: r.layers.map(({ digest, size, cached }) => ({ digest, size, cached })),
      seconds: r.seconds,
      ...(r.warnings.length ? { warnings: r.warnings } : {}),
      ...(signed.has(r.service) ? { signed: signed.get(r.service) } : {}),
    }));
    if (denied.length === 0) ctx.stdout(`${JSON.stringify({ images }, null, 2)}\n`);
  }
  // Every service was built and checked; the first refusal is the error (exit 3), each is audited.
  if (denied.length === 1) throw denialError(denied[0]!.req, denied[0]!.outcome);
  if (denied.length > 1) {
    const errors = denied.map((d) => denialError(d.req, d.outcome));
    throw new GateDeniedError(errors.map((e) => e.message).join('\n'), { hint: errors[0]!.hint });
  }
  return 0;
}

/** The audit entry of a build the build-stage policies refused. */
function deniedEvent(req: GateRequest, outcome: GateOutcome) {
  return {
    action: 'gate.denied',
    subject: { service: req.service, image: req.imageDigest },
    reason: outcome.failures.map(failureLine).join('; '),
    detail: { stage: 'build', failures: outcome.failures, policies: outcome.policies },
  };
}

export const command: Command = {
  name: 'build',
  summary: 'Build reproducible OCI images of services into .cairn/store (no daemon needed).',
  usage: 'cairn build [SERVICE…] [--key KEY] [-f FILE] [--output json]',
  description: `Builds each named service (default: all) into the workspace's image store, an OCI image
layout. Layers, in order: base, dependencies (npm ci --omit=dev from package-lock.json, when
present), application files (build.include), configuration files (build.files). A layer is rebuilt
only when its inputs changed. Same inputs give the same digest: file times are SOURCE_DATE_EPOCH
(default 0). Each image is tagged <service>:latest once the policies that name the build stage pass
(see docs/policy.md); a refused build exits 3 naming every failed rule and is not tagged, so latest
keeps naming the last good build. Needs a workspace: run \`cairn init\` first.`,
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
