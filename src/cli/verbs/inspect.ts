import { ANNOTATION, formatBytes, resolveImage, workspaceStore } from '../../artifact/index.js';
import { imageEvidence, listAttached, type ProvenanceSummary } from '../../trust/index.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';
import { specIfPresent, workspaceAnchor } from '../workspace-anchor.js';

const USAGE = 'cairn inspect IMAGE [-f FILE] [--output json]';

export const command: Command = {
  name: 'inspect',
  summary: 'Show an image: manifest, config, layers, signatures and attestations.',
  usage: USAGE,
  description: `IMAGE is a service name (its latest build), a store ref or a digest. Environment values are
shown as names only. Check the signatures with \`cairn verify IMAGE --key PUB\`.`,
  options: { file: FILE_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  async run(ctx) {
    const [image] = ctx.args;
    if (!image) throw new UsageError('inspecting: name the IMAGE', USAGE);
    const file = workspaceAnchor(ctx.options.file as string | undefined, ctx.cwd, ctx.env);
    const store = workspaceStore(file, ctx.env);
    const descriptor = await resolveImage(store, image, specIfPresent(file)?.spec);
    const manifest = await store.readManifest(descriptor.digest);
    const config = JSON.parse((await store.readBlob(manifest.config.digest)).toString('utf8')) as {
      config?: {
        Entrypoint?: string[];
        Cmd?: string[];
        Env?: string[];
        User?: string;
        WorkingDir?: string;
        ExposedPorts?: Record<string, unknown>;
      };
      created?: string;
    };
    const c = config.config ?? {};
    const attached = await listAttached(store, descriptor.digest);
    const { provenance } = await imageEvidence(store, descriptor.digest);
    const view = {
      digest: descriptor.digest,
      source: sourceOf(provenance),
      annotations: manifest.annotations ?? {},
      config: {
        entrypoint: [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])],
        user: c.User,
        workdir: c.WorkingDir,
        exposedPorts: Object.keys(c.ExposedPorts ?? {}),
        envNames: (c.Env ?? []).map((e) => e.split('=')[0]),
      },
      layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
      ...attached,
    };
    if (ctx.output === 'json') {
      ctx.stdout(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `image ${view.digest}`,
      `  source    ${view.source.repository ?? '(none)'} @ ${view.source.commit ?? '(none)'}${provenance ? ' (from provenance)' : ''}`,
      `  created   ${view.annotations[ANNOTATION.created] ?? config.created ?? '(none)'}`,
      `  run       ${view.config.entrypoint.join(' ')} as ${view.config.user} in ${view.config.workdir}, ports ${view.config.exposedPorts.join(', ') || '(none)'}`,
      `  env       ${view.config.envNames.join(', ') || '(none)'}`,
      'layers',
      ...view.layers.map((l) => `  ${l.digest}  ${formatBytes(l.size)}`),
      'signatures',
      ...(attached.signatures.length
        ? attached.signatures.map((s) => `  key ${s.keyId ?? '?'}  ${s.reference ?? ''}`)
        : ['  none']),
      'attestations',
      ...(attached.attestations.length
        ? attached.attestations.map(
            (a) => `  ${a.predicateType ?? '?'}  key ${a.keyId ?? '?'}  ${a.referrer}`,
          )
        : ['  none']),
    ];
    ctx.stdout(`${lines.join('\n')}\n`);
    return 0;
  },
};

/** Where the image came from, as its provenance says (the manifest carries no commit: see docs/build.md). */
function sourceOf(p: ProvenanceSummary | undefined): { repository?: string; commit?: string } {
  if (!p) return {};
  const commit = p.commit ? `${p.commit}${p.dirty ? '-dirty' : ''}` : undefined;
  return { ...(p.source ? { repository: p.source } : {}), ...(commit ? { commit } : {}) };
}
