import { describe, expect, it } from 'vitest';
import { parseSpec } from './parse.js';

const SPEC = (env: string) => `project: p
services:
  web:
    build: { context: ./app, entrypoint: [node, server.js] }
    run: { port: 8080 }
environments:
  k8s:
${env}
`;
const exists = (rel: string) =>
  rel.replace(/^\.\//, '') === 'app' ? 'dir' : rel === 'kube/config' ? 'file' : undefined;
const diags = (env: string) =>
  parseSpec(SPEC(env), 'cairn.yaml', exists).diagnostics.map(
    (d) => `${d.line}:${d.column} ${d.severity}: ${d.message}`,
  );
const GOOD = `    gateway: { listen: "127.0.0.1:9000" }
    kubernetes: { kubeconfig: kube/config, namespace: web-prod, registry: "127.0.0.1:5000/cairn" }`;

describe('environments.<name>.kubernetes', () => {
  it('accepts a cluster and keeps its keys', () => {
    const parsed = parseSpec(SPEC(GOOD), 'cairn.yaml', exists);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.spec!.environments.k8s!.kubernetes).toEqual({
      kubeconfig: 'kube/config',
      namespace: 'web-prod',
      registry: '127.0.0.1:5000/cairn',
    });
  });

  it('reports a bad namespace and registry at their line and column', () => {
    const out = diags(
      GOOD.replace('web-prod', 'Web_Prod').replace('"127.0.0.1:5000/cairn"', 'http://r:5000/x:v1'),
    );
    expect(out).toContainEqual(expect.stringMatching(/^9:55 error: namespace "Web_Prod" is not a DNS label/));
    expect(out).toContainEqual(expect.stringMatching(/^9:75 error: registry "http:\/\/r:5000\/x:v1" is not/));
  });

  it('refuses a cluster namespace, a driver that disagrees, and driver kubernetes without a cluster', () => {
    expect(diags(GOOD.replace('web-prod', 'kube-system'))).toContainEqual(
      expect.stringContaining('namespace "kube-system" belongs to the cluster'),
    );
    expect(diags(`${GOOD}\n    driver: runc`)).toContainEqual(
      expect.stringContaining('lives in a Kubernetes cluster but names driver runc'),
    );
    expect(diags(`    gateway: { listen: "127.0.0.1:9000" }\n    driver: kubernetes`)).toContainEqual(
      expect.stringContaining('has driver kubernetes but no cluster'),
    );
  });

  it('warns (not fails) when the kubeconfig is not here, and requires the namespace', () => {
    expect(diags(GOOD.replace('kube/config', '/nowhere/config'))).toEqual([
      expect.stringMatching(/warning: kubeconfig "\/nowhere\/config" does not exist here/),
    ]);
    expect(diags(GOOD.replace(', namespace: web-prod', '')).join('\n')).toMatch(/namespace/);
  });

  it('refuses two environments in one namespace of one cluster, at the second one', () => {
    const out = diags(`${GOOD}
  k8s-too:
    gateway: { listen: "127.0.0.1:9001" }
    kubernetes: { kubeconfig: kube/config, namespace: web-prod, registry: "127.0.0.1:5000/cairn" }`);
    expect(out).toEqual([
      '12:55 error: environments k8s and k8s-too share namespace "web-prod" of one cluster; give each a namespace of its own',
    ]);
  });
});
