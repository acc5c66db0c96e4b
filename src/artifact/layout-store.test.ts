import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError, NotFoundError, sha256Digest } from '../lib/index.js';
import { openImageStore } from './layout-store.js';
import { MEDIA_TYPE, REF_NAME_ANNOTATION } from './oci.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function putManifest(store: ReturnType<typeof openImageStore>, note: string) {
  const config = await store.putBlob(Buffer.from(`{"note":"${note}"}`), MEDIA_TYPE.config);
  const manifest = { schemaVersion: 2, mediaType: MEDIA_TYPE.manifest, config, layers: [] };
  return store.putBlob(Buffer.from(JSON.stringify(manifest)), MEDIA_TYPE.manifest);
}

describe('image store', () => {
  it('writes an OCI image layout with blobs under their digest', async () => {
    const store = openImageStore(join(dir, 'store'));
    const d = await store.putBlob(Buffer.from('hello'), 'text/plain');
    expect(d).toEqual({ mediaType: 'text/plain', digest: sha256Digest('hello'), size: 5 });
    expect(JSON.parse(readFileSync(join(dir, 'store', 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    expect(readFileSync(store.blobPath(d.digest), 'utf8')).toBe('hello');
    expect((await store.readBlob(d.digest)).toString()).toBe('hello');
    expect(await store.putBlob(Buffer.from('hello'), 'text/plain')).toEqual(d);
  });

  it('leaves no temp files behind', async () => {
    const store = openImageStore(join(dir, 'store'));
    await Promise.all([1, 2, 3].map((n) => store.putBlob(Buffer.from(`blob ${n}`), 'text/plain')));
    expect(readdirSync(join(dir, 'store', '.tmp'))).toEqual([]);
  });

  it('refuses a blob whose bytes do not match its digest', async () => {
    const store = openImageStore(join(dir, 'store'));
    const d = await store.putBlob(Buffer.from('original'), 'text/plain');
    writeFileSync(store.blobPath(d.digest), 'tampered');
    await expect(store.readBlob(d.digest)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('tags manifests in index.json and resolves refs, digests and prefixes', async () => {
    const store = openImageStore(join(dir, 'store'));
    const a = await putManifest(store, 'a');
    const b = await putManifest(store, 'b');
    await store.tag('hello:latest', a);
    await store.tag('hello:latest', b);
    await store.tag('hello:v1', a);
    const index = JSON.parse(readFileSync(join(dir, 'store', 'index.json'), 'utf8'));
    expect(
      index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations[REF_NAME_ANNOTATION]),
    ).toEqual(['hello:latest', 'hello:v1']);
    expect((await store.resolve('hello:latest')).digest).toBe(b.digest);
    expect((await store.resolve(a.digest)).digest).toBe(a.digest);
    expect((await store.resolve(b.digest.slice(7, 19))).digest).toBe(b.digest);
    expect((await store.readManifest(b.digest)).config.mediaType).toBe(MEDIA_TYPE.config);
    await expect(store.resolve('nope:latest')).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.tag('Bad Ref!', a)).rejects.toThrow(/not a valid image ref name/);
  });

  it('is readable by skopeo', async () => {
    const store = openImageStore(join(dir, 'store'));
    const a = await putManifest(store, 'a');
    await store.tag('hello:latest', a);
    const raw = execFileSync('skopeo', ['inspect', '--raw', `oci:${join(dir, 'store')}:hello:latest`]);
    expect(sha256Digest(raw)).toBe(a.digest);
  });

  it('lists nothing for a store that does not exist yet', async () => {
    expect(await openImageStore(join(dir, 'missing')).list()).toEqual([]);
  });
});
