// What the scripts that drive the Kubernetes test cluster share (the story on the cluster,
// bench/k8s.mjs): where the testbed keeps its binaries and state, a registry on 127.0.0.1 for the
// node to pull from, and hello's spec in a Kubernetes environment.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../dist/gateway/listen-address.js';

export const K8S_VERSION = 'v1.36.3';
/** The built binaries (scripts/k8s-testbed build), by version. */
export const CACHE = process.env.CAIRN_K8S_CACHE ?? join(homedir(), '.cache', 'cairn', 'k8s');
export const BIN = join(CACHE, K8S_VERSION);
export const KUBECTL = join(BIN, 'kubectl');
/** Present while a testbed is up: there is one per machine. */
export const STATE = process.env.CAIRN_K8S_STATE ?? join(CACHE, 'run');
export const KUBECONFIG = join(STATE, 'admin.kubeconfig');

/** The testbed binaries that are not built yet (empty when the cluster can be brought up). */
export function missingTestbedFiles() {
  return ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kubectl']
    .map((p) => join(BIN, p))
    .concat(join(CACHE, 'etcd-v3.6.16', 'etcd'))
    .filter((p) => !existsSync(p))
    .map((p) => p.slice(CACHE.length + 1));
}

/** Debian's docker-registry on 127.0.0.1, its data under `dir`: where cairn pushes and the node pulls. */
export async function startRegistry(dir) {
  const port = await freePort();
  const config = join(dir, '.registry.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(dir, '.registry')} } }\nhttp: { addr: 127.0.0.1:${port} }\n`,
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  for (let i = 0; i < 150; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address: `127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

/**
 * examples/hello in one Kubernetes environment `k8s`, its gateway on 127.0.0.1:`port`: the
 * gateway of `cairn up` and blue/green, or, with `gatewayNamespace`, cairn's gateway in the
 * cluster and (unless `canary: false`) a canary with analysis (20 %, analysis, 100 %);
 * `moreEnvironments` (YAML lines at the environments' indentation) adds others.
 */
export function helloOnKubernetes({
  port,
  registry,
  namespace,
  scaleDownDelay,
  secrets = false,
  policies,
  moreEnvironments = '',
  gatewayNamespace,
  canary = gatewayNamespace !== undefined,
}) {
  const deploy = canary
    ? `{ strategy: canary, scaleDownDelayMs: ${scaleDownDelay}, steps: [{ weight: 20, pauseMs: 3s }, { analysis: {} }, { weight: 100 }], analysis: { maxErrorRate: 0.01, maxP99Ms: 1000, minRequests: 100, windowMs: 5s } }`
    : `{ strategy: bluegreen, scaleDownDelayMs: ${scaleDownDelay} }`;
  return `project: hello
services:
  hello:
    build:
      context: ./app
      include: ["**/*.js", "package.json"]
      entrypoint: ["node", "server.js"]
      env: { GREETING: hi }
      files: { /etc/hello/config.json: ./config/v1.json }
    run:
      port: 8080
      replicas: 2
      health: { path: /healthz, intervalMs: 1000, timeoutMs: 1000 }
      tmpfs: [/tmp]${secrets ? '\n      secrets: [API_TOKEN]' : ''}
    deploy: ${deploy}
environments:
  k8s:
    gateway: { listen: "127.0.0.1:${port}" }
    kubernetes: { kubeconfig: ${KUBECONFIG}, namespace: ${namespace},${gatewayNamespace ? ` gatewayNamespace: ${gatewayNamespace},` : ''} registry: "${registry}/cairn" }${policies ? `\n    policies: [${policies.join(', ')}]` : ''}
${moreEnvironments}routes:
  - { host: "*", path: /, service: hello }
`;
}
