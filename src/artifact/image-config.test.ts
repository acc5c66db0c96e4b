import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../lib/index.js';
import { type ImageInputs, imageDocuments, mergeEnv } from './image-config.js';
import { MEDIA_TYPE } from './oci.js';

const layer = (n: number) => ({
  descriptor: { mediaType: MEDIA_TYPE.layerGzip, digest: `sha256:${String(n).repeat(64)}`, size: n },
  diffId: `sha256:${String(n + 1).repeat(64)}`,
  createdBy: `layer ${n}`,
});

const inputs: ImageInputs = {
  base: {
    name: 'host:node',
    digest: `sha256:${'9'.repeat(64)}`,
    layers: [layer(1).descriptor],
    config: {
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin', 'GREETING=base'] },
      rootfs: { type: 'layers', diff_ids: [layer(1).diffId] },
    },
  },
  layers: [layer(3), layer(5)],
  entrypoint: ['node', 'server.js'],
  env: { GREETING: 'hi', A: '1' },
  workdir: '/app',
  user: 65532,
  port: 8080,
  createdSec: 0,
  annotations: { 'org.opencontainers.image.version': '1.0.0' },
};

describe('image config and manifest', () => {
  it('records entrypoint, env, user, workdir, port, diff_ids and annotations', () => {
    const docs = imageDocuments(inputs);
    expect(docs.config.config).toMatchObject({
      User: '65532:65532',
      Entrypoint: ['node', 'server.js'],
      WorkingDir: '/app',
      ExposedPorts: { '8080/tcp': {} },
      Env: ['A=1', 'GREETING=hi', 'PATH=/usr/bin'],
    });
    expect(docs.config.rootfs.diff_ids).toEqual([layer(1).diffId, layer(3).diffId, layer(5).diffId]);
    expect(docs.manifest.layers.map((l) => l.size)).toEqual([1, 3, 5]);
    expect(docs.manifest.annotations).toEqual({
      'org.opencontainers.image.version': '1.0.0',
      'org.opencontainers.image.created': '1970-01-01T00:00:00Z',
      'org.opencontainers.image.base.digest': inputs.base.digest,
      'org.opencontainers.image.base.name': 'host:node',
    });
    expect(docs.manifest.config.digest).toBe(sha256Digest(docs.configBytes));
  });

  it('gives the same bytes for the same inputs, whatever the order of env keys', () => {
    const a = imageDocuments(inputs);
    const b = imageDocuments({ ...inputs, env: { A: '1', GREETING: 'hi' } });
    expect(b.manifestBytes.equals(a.manifestBytes)).toBe(true);
    expect(imageDocuments({ ...inputs, createdSec: 1 }).manifestBytes.equals(a.manifestBytes)).toBe(false);
  });

  it('lets the spec override the base environment', () => {
    expect(mergeEnv(['X=1', 'Y=2'], { Y: '3' })).toEqual(['X=1', 'Y=3']);
  });
});
