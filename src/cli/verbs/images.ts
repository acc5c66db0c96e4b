import { ANNOTATION, formatBytes, workspaceStore } from '../../artifact/index.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION } from '../command.js';
import { workspaceAnchor } from '../workspace-anchor.js';

const SIGNATURE_REF = /(^|:)sha256-[0-9a-f]{64}(\.sig)?$/;

interface ImageRow {
  ref: string | null;
  digest: string;
  mediaType: string;
  size: number;
  created: string | null;
}

async function rows(ctx: CommandContext): Promise<ImageRow[]> {
  const file = workspaceAnchor(ctx.options.file as string | undefined, ctx.cwd, ctx.env);
  const store = workspaceStore(file, ctx.env);
  const out: ImageRow[] = [];
  for (const { ref, descriptor } of await store.list()) {
    // Signature and referrer tags (sha256-<hex>[.sig]) belong to an image; `cairn inspect` shows them.
    if (ref && SIGNATURE_REF.test(ref)) continue;
    let size = descriptor.size;
    let created: string | null = null;
    try {
      const m = await store.readManifest(descriptor.digest);
      size += m.config.size + m.layers.reduce((sum, l) => sum + l.size, 0);
      created = m.annotations?.[ANNOTATION.created] ?? null;
    } catch {
      // not an image manifest (e.g. an index); list it with its own size
    }
    out.push({ ref: ref ?? null, digest: descriptor.digest, mediaType: descriptor.mediaType, size, created });
  }
  return out.sort((a, b) => (a.ref ?? '').localeCompare(b.ref ?? ''));
}

export const command: Command = {
  name: 'images',
  summary: 'List the images in the workspace store (.cairn/store).',
  usage: 'cairn images [-f FILE] [--output json]',
  description: 'Lists every named manifest in .cairn/store/index.json with its digest and total size.',
  options: { file: FILE_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  async run(ctx) {
    const images = await rows(ctx);
    if (ctx.output === 'json') {
      ctx.stdout(`${JSON.stringify({ images }, null, 2)}\n`);
      return 0;
    }
    if (images.length === 0) {
      ctx.stdout('no images yet; run `cairn build`\n');
      return 0;
    }
    const width = Math.max(3, ...images.map((i) => (i.ref ?? '<none>').length));
    ctx.stdout(`${'REF'.padEnd(width)}  DIGEST        SIZE\n`);
    for (const i of images) {
      ctx.stdout(`${(i.ref ?? '<none>').padEnd(width)}  ${i.digest.slice(7, 19)}  ${formatBytes(i.size)}\n`);
    }
    return 0;
  },
};
