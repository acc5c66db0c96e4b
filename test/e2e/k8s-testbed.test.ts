/**
 * Runbook: the Kubernetes test cluster (scripts/k8s-testbed) is a real one. `up` brings etcd, the
 * apiserver, controller-manager, scheduler, containerd and the kubelet (v1.36.3, built from the
 * upstream Go modules) to a Ready node; a pod pulled by digest from a registry on 127.0.0.1 becomes
 * Ready through its readiness probe and answers over the pod network; Secrets are encrypted in etcd;
 * Pod Security Admission refuses a pod on the host network. `down` leaves no process, mount, link,
 * iptables chain, cgroup or changed sysctl behind. In between, cairn deploys into it
 * (k8s-driver.scenario.ts) and runs a canary through its gateway in the cluster (k8s-gateway.scenario.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  hostSnapshot,
  K8S_VERSION,
  kubectl,
  leftBehind,
  STATE,
  testbed,
  testbedUsable,
} from '../helpers/k8s-testbed.js';
import { type LocalRegistry, startLocalRegistry } from '../helpers/registry.js';
import { kubernetesDriverScenario } from './k8s-driver.scenario.js';
import { inClusterGatewayScenario } from './k8s-gateway.scenario.js';
import { gatewayPodScenario } from './k8s-gateway-pod.scenario.js';

const usable = testbedUsable();
if (!usable.ok) console.warn(`Kubernetes testbed e2e skipped: ${usable.why}`);

const STEP_MS = 600_000;

/** The hello image pushed to the registry; returns its reference by digest. */
function pushHello(registry: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-k8s-'));
  try {
    const digestFile = join(dir, 'digest');
    execFileSync('skopeo', [
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      '--digestfile',
      digestFile,
      `oci-archive:${join(BIN, 'hello.oci.tar')}:v1`,
      `docker://${registry}/hello:v1`,
    ]);
    return `${registry}/hello@${readFileSync(digestFile, 'utf8').trim()}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const helloPod = (image: string) => `apiVersion: v1
kind: Pod
metadata: { name: hello, namespace: default }
spec:
  automountServiceAccountToken: false
  containers:
  - name: hello
    image: ${image}
    ports: [{ containerPort: 8080 }]
    readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
    securityContext:
      runAsNonRoot: true
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: { drop: [ALL] }
      seccompProfile: { type: RuntimeDefault }
`;

describe.runIf(usable.ok)('the Kubernetes testbed: a real node, cleaned up by down', () => {
  let before: Set<string>;
  let during: Set<string>;
  let registry: LocalRegistry;

  beforeAll(async () => {
    before = hostSnapshot();
    registry = await startLocalRegistry();
  }, STEP_MS);

  afterAll(async () => {
    await testbed(['down']);
    await registry?.stop();
  }, STEP_MS);

  it(
    'up brings the node to Ready and status reports the versions',
    async () => {
      const up = await testbed(['up']);
      expect(up.stderr).toContain('Ready');
      expect(up.code).toBe(0);
      expect(up.stdout.trim()).toBe(join(STATE, 'admin.kubeconfig'));
      const status = await testbed(['status']);
      expect(status.stdout).toContain('Ready: True');
      expect(status.stdout).toContain(`server ${K8S_VERSION}, kubelet ${K8S_VERSION}, etcd 3.6.`);
      expect(status.code).toBe(0);
    },
    STEP_MS,
  );

  it(
    'a pod pulled by digest from 127.0.0.1 becomes Ready through its probe and answers',
    async () => {
      const image = pushHello(registry.address);
      expect((await testbed(['registry', registry.address])).code).toBe(0);
      kubectl(['apply', '-f', '-'], helloPod(image));
      kubectl(['wait', '--for=condition=Ready', 'pod/hello', '--timeout=180s']);
      const ip = kubectl(['get', 'pod', 'hello', '-o', 'jsonpath={.status.podIP}']);
      expect(ip).toMatch(/^10\.244\.0\.\d+$/);
      const answer = await fetch(`http://${ip}:8080/`).then((r) => r.text());
      expect(answer).toBe('hello from hello\n');
      expect(
        kubectl(['get', 'pod', 'hello', '-o', 'jsonpath={.status.containerStatuses[0].imageID}']),
      ).toContain(image.split('@')[1]);
      during = hostSnapshot();
    },
    STEP_MS,
  );

  it(
    'Secrets are encrypted in etcd and Pod Security refuses a pod on the host network',
    () => {
      kubectl(['create', 'secret', 'generic', 'canary', '--from-literal=value=plain-canary-value']);
      const pki = join(STATE, 'pki');
      const raw = execFileSync(join(BIN, '..', 'etcd-v3.6.16', 'etcdctl'), [
        '--endpoints',
        `https://127.0.0.1:${process.env.CAIRN_K8S_ETCD_PORT ?? 23790}`,
        '--cacert',
        join(pki, 'ca.crt'),
        '--cert',
        join(pki, 'apiserver-etcd-client.crt'),
        '--key',
        join(pki, 'apiserver-etcd-client.key'),
        'get',
        '/registry/secrets/default/canary',
        '--print-value-only',
      ]);
      expect(raw.toString('latin1')).toContain('k8s:enc:secretbox:v1:key1:');
      expect(raw.toString('latin1')).not.toContain('plain-canary-value');
      const hostNet = `apiVersion: v1\nkind: Pod\nmetadata: { name: hostnet }\nspec:\n  hostNetwork: true\n  containers:\n  - { name: c, image: x }\n`;
      expect(() => kubectl(['apply', '-f', '-'], hostNet)).toThrow(
        /violates PodSecurity "baseline:latest": host namespaces/,
      );
    },
    STEP_MS,
  );

  // cairn's Kubernetes driver, while this cluster is up (one testbed per machine).
  kubernetesDriverScenario(() => registry.address);
  // cairn's in-cluster gateway pod program and image.
  gatewayPodScenario(() => registry.address);
  // cairn's gateway in the cluster (a canary through it), on the same cluster.
  inClusterGatewayScenario(() => registry.address);

  it(
    'down leaves no process, mount, link, iptables chain, cgroup or sysctl behind',
    async () => {
      expect(during, 'a snapshot while the pod ran').toBeDefined();
      const made = leftBehind(before, during);
      for (const kind of ['process', 'mount', 'link', 'cgroup', 'sysctl'])
        expect(
          made.some((i) => i.startsWith(`${kind} `)),
          `up made a ${kind}`,
        ).toBe(true);
      const down = await testbed(['down']);
      expect(down.code).toBe(0);
      expect(leftBehind(before, hostSnapshot())).toEqual([]);
      expect((await testbed(['status'])).stdout).toContain('down');
    },
    STEP_MS,
  );
});
