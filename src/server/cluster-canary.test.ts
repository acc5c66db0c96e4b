import { describe, expect, it } from 'vitest';
import { refuseClusterCanary } from './deployments.js';

const req = { service: 'hello', env: 'k8s' };

describe('a canary in a Kubernetes environment', () => {
  it('is allowed when the running control plane has the cluster gateway', () => {
    expect(() => refuseClusterCanary(req, 'canary', { inSpec: true, running: true })).not.toThrow();
  });

  it('is refused when only the spec file gained gatewayNamespace, with a hint to restart cairn up', () => {
    expect(() => refuseClusterCanary(req, 'canary', { inSpec: true, running: false })).toThrow(
      /needs cairn's gateway in the cluster, and the running control plane has none for k8s/,
    );
    try {
      refuseClusterCanary(req, 'canary', { inSpec: true, running: false });
    } catch (error) {
      expect((error as { hint?: string }).hint).toMatch(/restart `cairn up`/);
    }
  });

  it('is refused without gatewayNamespace; blue/green is not', () => {
    expect(() => refuseClusterCanary(req, 'canary', { inSpec: false, running: false })).toThrow(
      /needs cairn's gateway in the cluster$/,
    );
    expect(() => refuseClusterCanary(req, 'bluegreen', { inSpec: true, running: false })).not.toThrow();
  });
});
