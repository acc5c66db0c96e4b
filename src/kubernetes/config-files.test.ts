import { describe, expect, it } from 'vitest';
import { IntegrityError, sha256Digest } from '../lib/index.js';
import type { RunSpec } from '../spec/index.js';
import { configFileManifest, configFileName, configMapsOf } from './config-files.js';
import { deploymentManifest } from './manifests.js';

const run: RunSpec = {
  port: 8080,
  replicas: 1,
  health: {
    path: '/healthz',
    intervalMs: 1000,
    timeoutMs: 1000,
    healthyThreshold: 1,
    unhealthyThreshold: 3,
    startPeriodMs: 0,
  },
  tmpfs: [],
  secrets: [],
  stopGraceMs: 10_000,
};
const json = Buffer.from('{"upstream":"https://api.prod"}\n');
const file = (path: string, content: Buffer) => ({ path, digest: sha256Digest(content), content });
const workload = (files: ReturnType<typeof file>[]) => ({
  service: 'api',
  env: 'prod',
  releaseId: 'rel-0123456789ab',
  namespace: 'api-prod',
  image: '127.0.0.1:5000/api@sha256:aa',
  uid: 65532,
  run,
  secrets: [],
  files,
});
type Pod = {
  volumes: Array<Record<string, unknown>>;
  containers: Array<{ volumeMounts: Array<Record<string, unknown>> }>;
};
const podOf = (files: ReturnType<typeof file>[]) =>
  (deploymentManifest(workload(files), 1).spec as { template: { spec: Pod } }).template.spec;

describe('configuration files in a cluster', () => {
  it('makes each pinned content an immutable ConfigMap named by its digest, labelled as cairn’s', () => {
    const cm = configFileManifest('api-prod', file('/etc/api/config.json', json));
    expect(cm.metadata.name).toBe(`cairn-file-${sha256Digest(json).slice('sha256:'.length)}`);
    expect(cm.metadata.name.length).toBeLessThanOrEqual(253);
    expect(cm).toMatchObject({
      immutable: true,
      data: { content: json.toString() },
      metadata: {
        namespace: 'api-prod',
        labels: { 'app.kubernetes.io/managed-by': 'cairn', 'cairn.dev/config-file': expect.any(String) },
      },
    });
  });

  it('keeps bytes that are not UTF-8 exact, as binaryData', () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    const cm = configFileManifest('ns', file('/etc/x.bin', bytes)) as { binaryData?: { content: string } };
    expect(Buffer.from(cm.binaryData!.content, 'base64').equals(bytes)).toBe(true);
  });

  it('refuses content that does not hash to the digest the release pins, before anything is written', () => {
    const pinned = file('/etc/api/config.json', json);
    const edited = { ...pinned, content: Buffer.from('{"upstream":"https://evil"}\n') };
    expect(() => configFileManifest('ns', edited)).toThrow(IntegrityError);
    expect(() => configFileManifest('ns', edited)).toThrow(/configuration file \/etc\/api\/config\.json/);
  });

  it('mounts each file read-only at its path with subPath, one volume per content', () => {
    const other = Buffer.from('level=info\n');
    const pod = podOf([
      file('/etc/api/config.json', json),
      file('/etc/api/log.conf', other),
      file('/etc/b', json),
    ]);
    const mounts = pod.containers[0]!.volumeMounts.filter((m) => String(m.name).startsWith('config-file-'));
    expect(mounts.map((m) => [m.mountPath, m.subPath, m.readOnly])).toEqual([
      ['/etc/api/config.json', 'content', true],
      ['/etc/api/log.conf', 'content', true],
      ['/etc/b', 'content', true],
    ]);
    const volumes = pod.volumes.filter((v) => v.configMap);
    expect(volumes).toHaveLength(2);
    expect(volumes).toContainEqual({
      name: mounts[0]!.name,
      configMap: { name: configFileName(sha256Digest(json)), defaultMode: 0o444 },
    });
    expect(mounts[2]!.name).toBe(mounts[0]!.name);
    const d = deploymentManifest(workload([file('/etc/api/config.json', json)]), 1);
    expect(configMapsOf(d)).toEqual([configFileName(sha256Digest(json))]);
    // The content is in the ConfigMap only, never in the Deployment.
    expect(JSON.stringify(d)).not.toContain('upstream');
  });

  it('gives a release without files no ConfigMap volume', () => {
    expect(podOf([]).volumes.filter((v) => v.configMap)).toEqual([]);
  });
});
