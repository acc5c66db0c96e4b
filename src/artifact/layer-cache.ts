/**
 * The layer cache: the digest of a layer's inputs → the layer already in the store. A change to
 * one application file changes only the application layer's key, so only that layer is rebuilt.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, jsonDigest } from '../lib/index.js';
import { writeFileAtomic } from './atomic-file.js';
import type { BuiltLayer } from './image-config.js';
import type { ImageStore } from './layout-store.js';
import { MEDIA_TYPE } from './oci.js';
import { buildLayer, type LayerEntry } from './tar-layer.js';

/** Bumped whenever the way layers are written changes, so old cache entries are not reused. */
const LAYER_FORMAT = 'cairn-layer-v1';

export interface LayerRequest {
  /** What the layer is, shown in the image history (e.g. `cairn: application`). */
  createdBy: string;
  /** Everything the layer's bytes depend on, as plain data (file digests, modes, paths, epoch). */
  key: unknown;
  /** Produces the entries; only called on a cache miss. */
  entries: () => Promise<LayerEntry[]> | LayerEntry[];
  mtimeSec: number;
}

export interface CachedLayer extends BuiltLayer {
  cached: boolean;
}

/** A cache of layers kept next to the store (`.cairn/cache/layers`), keyed by input digest. */
export class LayerCache {
  constructor(
    private readonly store: ImageStore,
    private readonly dir: string,
  ) {}

  async layer(req: LayerRequest): Promise<CachedLayer> {
    const key = jsonDigest({ format: LAYER_FORMAT, mtimeSec: req.mtimeSec, key: req.key });
    const file = join(this.dir, `${digestHex(key)}.json`);
    const hit = await this.lookup(file);
    if (hit) return { ...hit, createdBy: req.createdBy, cached: true };
    const layer = await buildLayer(await req.entries(), req.mtimeSec);
    const descriptor = await this.store.putBlob(layer.gzip, MEDIA_TYPE.layerGzip);
    const record = { descriptor, diffId: layer.diffId };
    await writeFileAtomic(file, Buffer.from(JSON.stringify(record)), join(this.dir, '.tmp'));
    return { ...record, createdBy: req.createdBy, cached: false };
  }

  private async lookup(file: string): Promise<Omit<BuiltLayer, 'createdBy'> | undefined> {
    try {
      const record = JSON.parse(await readFile(file, 'utf8')) as Omit<BuiltLayer, 'createdBy'>;
      return (await this.store.hasBlob(record.descriptor.digest)) ? record : undefined;
    } catch {
      return undefined;
    }
  }
}
