import { describe, expect, it } from 'vitest';
import type { RunSpec } from '../spec/index.js';
import {
  deploymentManifest,
  deploymentName,
  namespaceManifest,
  secretManifest,
  secretName,
} from './manifests.js';

const run: RunSpec = {
  port: 8080,
  replicas: 2,
  health: {
    path: '/healthz',
    intervalMs: 200,
    timeoutMs: 1000,
    healthyThreshold: 1,
    unhealthyThreshold: 3,
    startPeriodMs: 30_000,
  },
  tmpfs: ['/tmp'],
  secrets: [],
  stopGraceMs: 10_000,
  env: { GREETING: 'hi' },
};
const secret = {
  name: 'DB_PASSWORD',
  version: 'v2',
  digest: 'hmac-sha256:abcdef0123456789abcdef',
  file: 'db-password',
  env: 'DB_PASSWORD',
  value: Buffer.from('s3cret-value'),
};
const workload = {
  service: 'hello',
  env: 'prod',
  releaseId: 'rel-0123456789ab',
  namespace: 'hello-prod',
  image: '127.0.0.1:5000/hello@sha256:aa',
  uid: 65532,
  run,
  secrets: [secret],
};
type Pod = {
  securityContext: Record<string, unknown>;
  automountServiceAccountToken: boolean;
  dnsPolicy: string;
  volumes: Array<Record<string, unknown>>;
  containers: Array<Record<string, unknown> & { env: Array<Record<string, unknown>> }>;
};

describe('the objects a release becomes', () => {
  const d = deploymentManifest(workload, 3) as unknown as {
    metadata: { name: string; labels: Record<string, string> };
    spec: { replicas: number; template: { spec: Pod } };
  };
  const pod = d.spec.template.spec;
  const container = pod.containers[0]!;

  it('is one Deployment per release, labelled, with the replicas asked and the image by digest', () => {
    expect(d.metadata.name).toBe('hello-rel-0123456789ab');
    expect(d.metadata.labels).toMatchObject({
      'cairn.dev/service': 'hello',
      'cairn.dev/env': 'prod',
      'cairn.dev/release': 'rel-0123456789ab',
    });
    expect(d.spec.replicas).toBe(3);
    expect(container.image).toBe('127.0.0.1:5000/hello@sha256:aa');
  });

  it('runs a hardened pod: non-root as the image user, read-only, no token, tmpfs in memory', () => {
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.dnsPolicy).toBe('Default');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(container.securityContext).toEqual({
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.volumes).toContainEqual({ name: 'tmpfs-0', emptyDir: { medium: 'Memory' } });
    expect(container.readinessProbe).toMatchObject({
      httpGet: { path: '/healthz', port: 8080 },
      periodSeconds: 1,
    });
  });

  it('gives each secret version an immutable Secret by name, referenced, never its value in the Deployment', () => {
    expect(secretName(secret)).toBe('cairn-db-password-v2');
    expect(secretName({ ...secret, version: 'env' })).toBe('cairn-db-password-abcdef0123456789');
    const s = secretManifest('hello-prod', secret) as unknown as {
      immutable: boolean;
      data: Record<string, string>;
    };
    expect(s.immutable).toBe(true);
    expect(Buffer.from(s.data.value!, 'base64').toString()).toBe('s3cret-value');
    expect(container.env).toContainEqual({
      name: 'DB_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'cairn-db-password-v2', key: 'value' } },
    });
    const text = JSON.stringify(d);
    expect(text).not.toContain('s3cret-value');
    expect(text).not.toContain(Buffer.from('s3cret-value').toString('base64'));
  });

  it('enforces Pod Security restricted on the namespace and keeps names DNS labels', () => {
    expect(namespaceManifest('hello-prod').metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    expect(deploymentName('a'.repeat(60), 'rel-0123456789ab')).toMatch(/^[a-z0-9-]{1,63}$/);
  });
});
