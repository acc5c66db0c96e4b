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

describe('environments.<name>.kubernetes.gatewayNamespace', () => {
  const WITH_GW = GOOD.replace('namespace: web-prod,', 'namespace: web-prod, gatewayNamespace: web-gw,');

  it('accepts a gateway namespace of its own and keeps it', () => {
    const parsed = parseSpec(SPEC(WITH_GW), 'cairn.yaml', exists);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.spec!.environments.k8s!.kubernetes!.gatewayNamespace).toBe('web-gw');
  });

  it("refuses the environment's own namespace, a cluster namespace and a bad name, at the key", () => {
    expect(diags(WITH_GW.replace('web-gw', 'web-prod'))).toEqual([
      expect.stringMatching(/^9:83 error: gatewayNamespace "web-prod" is the environment's own namespace/),
    ]);
    expect(diags(WITH_GW.replace('web-gw', 'kube-system'))).toEqual([
      expect.stringMatching(/^9:83 error: namespace "kube-system" belongs to the cluster/),
    ]);
    expect(diags(WITH_GW.replace('web-gw', 'default'))).toContainEqual(
      expect.stringContaining('namespace "default" belongs to the cluster'),
    );
    expect(diags(WITH_GW.replace('web-gw', 'Web_GW'))).toContainEqual(
      expect.stringContaining('namespace "Web_GW" is not a DNS label'),
    );
  });

  it("refuses a gateway namespace that is another environment's namespace or gateway namespace", () => {
    const second = (k: string) => `${WITH_GW}
  k8s-too:
    gateway: { listen: "127.0.0.1:9001" }
    kubernetes: { kubeconfig: kube/config, ${k}, registry: "127.0.0.1:5000/cairn" }`;
    expect(diags(second('namespace: web-gw'))).toEqual([
      '12:55 error: environments k8s and k8s-too share namespace "web-gw" of one cluster; give each a namespace of its own',
    ]);
    expect(diags(second('namespace: other, gatewayNamespace: web-gw'))).toEqual([
      expect.stringMatching(/^12:\d+ error: environments k8s and k8s-too share namespace "web-gw"/),
    ]);
    // Another cluster (kubeconfig) may use the same names.
    expect(
      diags(
        second('namespace: other, gatewayNamespace: web-gw').replace(
          /kube\/config(?=, namespace: other)/,
          'kube/other',
        ),
      ),
    ).toEqual([expect.stringMatching(/warning: kubeconfig "kube\/other" does not exist here/)]);
  });

  it('refuses a route with an HS256 secret and the haproxy engine where the gateway is in the cluster', () => {
    const routes = `${WITH_GW}\nroutes:\n  - { service: web, auth: { secret: JWT_KEY } }`;
    expect(diags(routes)).toEqual([
      expect.stringMatching(
        /^11:\d+ error: route 0 authenticates with an HS256 secret, which cairn's in-cluster gateway/,
      ),
    ]);
    expect(diags(GOOD + '\nroutes:\n  - { service: web, auth: { secret: JWT_KEY } }')).toEqual([]);
    expect(
      diags(WITH_GW.replace('listen: "127.0.0.1:9000"', 'listen: "127.0.0.1:9000", engine: haproxy')),
    ).toEqual([expect.stringContaining('remove gateway.engine: haproxy')]);
  });

  it('refuses a gateway.listen port below 1024 where the gateway is in the cluster, at its line and column', () => {
    expect(diags(WITH_GW.replace('127.0.0.1:9000', '0.0.0.0:443'))).toEqual([
      expect.stringMatching(
        /^8:24 error: environment k8s runs its gateway in the cluster \(gatewayNamespace\), whose pods drop every capability and cannot bind port 443; give gateway.listen a port from 1024 up, e.g. 0.0.0.0:8443/,
      ),
    ]);
    // The gateway of `cairn up` on this machine may (it runs with the user's rights).
    expect(diags(GOOD.replace('127.0.0.1:9000', '0.0.0.0:443'))).toEqual([]);
  });

  it('refuses a service that serves TLS with its SVID where the gateway is in the cluster', () => {
    const tls = (env: string) =>
      `identity: {}\n${SPEC(env).replace('run: { port: 8080 }', 'run: { port: 8080, tls: true }')}`;
    const out = parseSpec(tls(WITH_GW), 'cairn.yaml', exists).diagnostics.map(
      (d) => `${d.line}:${d.message}`,
    );
    expect(out).toEqual([
      expect.stringMatching(
        /^6:environment k8s runs its gateway in the cluster \(gatewayNamespace\), which has no SVID/,
      ),
    ]);
    expect(parseSpec(tls(GOOD), 'cairn.yaml', exists).diagnostics).toEqual([]);
  });
});
