import { type BuildResult, buildImage, formatBytes, workspaceStore } from '../../artifact/index.js';
import { ValidationError } from '../../lib/index.js';
import { findSpecFile, loadSpec } from '../../spec/index.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

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
  const results: BuildResult[] = [];
  for (const service of services) {
    const r = await buildImage(loaded, service, { store, sourceDateEpoch: epoch });
    results.push(r);
    if (ctx.output === 'text') ctx.stdout(renderText(r));
  }
  if (ctx.output === 'json') {
    const images = results.map((r) => ({
      service: r.service,
      digest: r.digest,
      ref: r.ref,
      layers: r.layers.map(({ digest, size, cached }) => ({ digest, size, cached })),
      seconds: r.seconds,
    }));
    ctx.stdout(`${JSON.stringify({ images }, null, 2)}\n`);
  }
  return 0;
}

export const command: Command = {
  name: 'build',
  summary: 'Build reproducible OCI images of services into .cairn/store (no daemon needed).',
  usage: 'cairn build [SERVICE…] [-f FILE] [--output json]',
  description: `Builds each named service (default: all) into the workspace's image store, an OCI image
layout. Layers, in order: base, dependencies (npm ci --omit=dev from package-lock.json, when
present), application files (build.include), configuration files (build.files). A layer is rebuilt
only when its inputs changed. Same inputs give the same digest: file times are SOURCE_DATE_EPOCH
(default 0). Each image is tagged <service>:latest. Needs a workspace: run \`cairn init\` first.`,
  options: { file: FILE_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  run,
};
