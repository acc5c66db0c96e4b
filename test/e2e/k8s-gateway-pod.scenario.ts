/**
 * Runbook: cairn's in-cluster gateway pod program against the real test cluster.
 * Given the testbed up, a namespace with the ServiceAccount cairn-gateway and its Role (get, list,
 * watch on the ConfigMap cairn-gateway only), and two backends on 127.0.0.1:
 * - run locally (dist/gateway-pod/main.js, with a token made by the TokenRequest API), it listens
 *   only once the first version is applied, follows every new version through its watch, keeps
 *   serving the last good version when a bad one is written, and on SIGTERM finishes the request
 *   in flight and exits 0;
 * - as a hostNetwork pod of the signed image buildGatewayImage makes (pulled by digest), it turns
 *   Ready, answers on the node, reports its version through the apiserver's pod proxy, and follows
 *   a weight flip.
 * Run inside test/e2e/k8s-testbed.test.ts while its cluster is up (one testbed per machine), after
 * the registry is set up for the node.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageStore } from '../../src/artifact/index.js';
import { freePort } from '../../src/gateway/listen-address.js';
import { buildGatewayImage, pushReleaseImage } from '../../src/kubernetes/index.js';
import { generateKeyPair, parsePrivateKey } from '../../src/trust/index.js';
import { kubectl, STATE } from '../helpers/k8s-testbed.js';

const STEP_MS = 300_000;
const NS = 'cairn-gwpod-e2e';
const BUNDLE = resolve(import.meta.dirname, '../../dist/gateway-pod/main.js');
const APISERVER = `https://127.0.0.1:${process.env.CAIRN_K8S_APISERVER_PORT ?? 16443}`;

const rbac = `apiVersion: v1
kind: Namespace
metadata:
  name: ${NS}
  labels: { pod-security.kubernetes.io/enforce: privileged }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: cairn-gateway, namespace: ${NS} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: cairn-gateway, namespace: ${NS} }
rules:
- { apiGroups: [""], resources: [configmaps], resourceNames: [cairn-gateway], verbs: [get, list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: cairn-gateway, namespace: ${NS} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: cairn-gateway }
subjects: [{ kind: ServiceAccount, name: cairn-gateway, namespace: ${NS} }]
`;

/** The ConfigMap at one version: every request of service hello to `endpoint`, or any text. */
function configMap(version: number, endpoint: { id: string; address: string } | string): string {
  const text =
    typeof endpoint === 'string'
      ? endpoint
      : JSON.stringify({
          version,
          config: { engine: 'builtin', listen: 'x:1', routes: [{ host: '*', path: '/', service: 'hello' }] },
          pools: { hello: [{ release: `r${version}`, weight: 100, endpoints: [endpoint] }] },
        });
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'cairn-gateway', namespace: NS },
    data: { 'gateway.json': text },
  });
}

/** A backend on 127.0.0.1 answering its name; `/slow` after 1.5 s. */
async function backend(name: string): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end(name), 1500);
    else res.end(name);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const answer = (listen: string, path = '/') =>
  fetch(`http://${listen}${path}`).then(
    async (r) => `${r.status} ${await r.text()}`,
    (e: Error) => `failed ${(e.cause as Error)?.message ?? e.message}`,
  );

/** Polls `probe` every 50 ms until it returns `want`; resolves with the milliseconds it took. */
async function until<T>(probe: () => Promise<T> | T, want: T, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  let last: T | undefined;
  while (Date.now() - started < timeoutMs) {
    last = await probe();
    if (last === want) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`waited ${timeoutMs} ms for ${JSON.stringify(want)}, last ${JSON.stringify(last)}`);
}

/** The scenario; `registry` is where the node pulls from (`scripts/k8s-testbed registry` done). */
export function gatewayPodScenario(registry: () => string): void {
  describe('the in-cluster gateway pod against the test cluster', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-gwpod-'));
    let a: { server: Server; address: string };
    let b: { server: Server; address: string };
    let local: ChildProcess | undefined;

    beforeAll(async () => {
      [a, b] = await Promise.all([backend('A'), backend('B')]);
      kubectl(['apply', '-f', '-'], rbac);
    }, STEP_MS);

    afterAll(async () => {
      local?.kill('SIGKILL');
      try {
        kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=60s']);
      } catch {}
      a?.server.close();
      b?.server.close();
      rmSync(dir, { recursive: true, force: true });
    }, STEP_MS);

    it(
      'locally: listens after the first version, follows the watch, keeps the last good version, stops gracefully',
      async () => {
        const sa = join(dir, 'sa');
        mkdirSync(sa, { recursive: true });
        writeFileSync(
          join(sa, 'token'),
          kubectl(['-n', NS, 'create', 'token', 'cairn-gateway', '--duration=10m']),
        );
        writeFileSync(join(sa, 'ca.crt'), readFileSync(join(STATE, 'pki', 'ca.crt')));
        const listen = `127.0.0.1:${await freePort()}`;
        const adminPort = await freePort();
        let stderr = '';
        local = spawn(process.execPath, [BUNDLE], {
          env: {
            PATH: process.env.PATH,
            CAIRN_GATEWAY_LISTEN: listen,
            CAIRN_POD_IP: '127.0.0.1',
            CAIRN_GATEWAY_ADMIN_PORT: String(adminPort),
            CAIRN_GATEWAY_NAMESPACE: NS,
            CAIRN_KUBE_APISERVER: APISERVER,
            CAIRN_SERVICE_ACCOUNT_DIR: sa,
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        local.stderr!.on('data', (c) => (stderr += c));
        const health = () =>
          fetch(`http://127.0.0.1:${adminPort}/healthz`).then(
            (r) => r.status,
            () => 0,
          );
        // Given no ConfigMap yet: the admin listener says not ready and the data plane is closed.
        await until(health, 503);
        expect(await answer(listen)).toMatch(/^failed .*ECONNREFUSED/);

        // When the first version is written: it serves it.
        kubectl(['apply', '-f', '-'], configMap(1, { id: 'pod-a', address: a.address }));
        await until(() => answer(listen), '200 A');
        expect(await health()).toBe(200);

        // When the weights move: it follows within the watch's delay.
        kubectl(['apply', '-f', '-'], configMap(2, { id: 'pod-b', address: b.address }));
        const flipMs = await until(() => answer(listen), '200 B', 10_000);
        const status = await fetch(`http://127.0.0.1:${adminPort}/_cairn/status`).then((r) => r.json());
        expect(status).toMatchObject({ version: 2, ready: true });
        console.log(
          `local gateway pod: weight flip seen by requests after ${flipMs} ms (kubectl apply returned first)`,
        );

        // When a bad version is written: one error line, and version 2 keeps serving.
        kubectl(['apply', '-f', '-'], configMap(3, '{"version": 3, "config": '));
        await until(() => stderr.includes('refused a gateway config version'), true, 10_000);
        expect(await answer(listen)).toBe('200 B');

        // When it is stopped while a request is in flight: the request finishes, the exit is 0.
        const slow = answer(listen, '/slow');
        await new Promise((r) => setTimeout(r, 300));
        const exited = new Promise<number | null>((r) => local!.once('exit', (code) => r(code)));
        local.kill('SIGTERM');
        expect(await slow).toBe('200 B');
        expect(await exited).toBe(0);
        local = undefined;
        expect(stderr).not.toMatch(/"level":"warn","msg":"watching/);
      },
      STEP_MS,
    );

    it(
      'in the cluster: the signed image runs as a hostNetwork pod, turns Ready, reports through the pod proxy',
      async () => {
        const key = parsePrivateKey(generateKeyPair().privateKeyPem, 'e2e key');
        const store = openImageStore(join(dir, 'store'));
        const image = await buildGatewayImage({ store, key, bundleFile: BUNDLE });
        const pushed = await pushReleaseImage(store, image.digest, 'cairn-gateway', registry(), 'e2e');
        const listen = `127.0.0.1:${await freePort()}`;
        const adminPort = await freePort();
        kubectl(['apply', '-f', '-'], configMap(10, { id: 'pod-a', address: a.address }));
        kubectl(['apply', '-f', '-'], gatewayPod(pushed.ref, listen, adminPort));
        kubectl(['-n', NS, 'wait', '--for=condition=Ready', 'pod/cairn-gateway', '--timeout=120s']);
        expect(await answer(listen)).toBe('200 A');
        const proxied = () =>
          JSON.parse(
            kubectl([
              'get',
              '--raw',
              `/api/v1/namespaces/${NS}/pods/cairn-gateway:${adminPort}/proxy/_cairn/status`,
            ]),
          ) as { version: number };
        expect(proxied().version).toBe(10);
        kubectl(['apply', '-f', '-'], configMap(11, { id: 'pod-b', address: b.address }));
        const flipMs = await until(() => answer(listen), '200 B', 10_000);
        expect(proxied().version).toBe(11);
        const metrics = kubectl([
          'get',
          '--raw',
          `/api/v1/namespaces/${NS}/pods/cairn-gateway:${adminPort}/proxy/metrics`,
        ]);
        expect(metrics).toMatch(/cairn_gateway_requests_total\{.*release="r11".*\} \d+/);
        console.log(`gateway pod in the cluster: weight flip seen by requests after ${flipMs} ms`);
        kubectl(['-n', NS, 'delete', 'pod', 'cairn-gateway', '--wait=true', '--timeout=60s']);
      },
      STEP_MS,
    );
  });
}

function gatewayPod(image: string, listen: string, adminPort: number): string {
  return `apiVersion: v1
kind: Pod
metadata: { name: cairn-gateway, namespace: ${NS}, labels: { cairn.dev/component: gateway } }
spec:
  hostNetwork: true
  serviceAccountName: cairn-gateway
  terminationGracePeriodSeconds: 30
  containers:
  - name: gateway
    image: ${image}
    env:
    - { name: CAIRN_GATEWAY_LISTEN, value: "${listen}" }
    - { name: CAIRN_GATEWAY_ADMIN_PORT, value: "${adminPort}" }
    - { name: CAIRN_GATEWAY_NAMESPACE, value: ${NS} }
    - { name: CAIRN_GATEWAY_CONFIGMAP, value: cairn-gateway }
    - { name: CAIRN_KUBE_APISERVER, value: "${APISERVER}" }
    - name: CAIRN_POD_IP
      valueFrom: { fieldRef: { fieldPath: status.podIP } }
    readinessProbe: { httpGet: { path: /healthz, port: ${adminPort} }, periodSeconds: 1 }
    securityContext:
      runAsNonRoot: true
      runAsUser: 65532
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: { drop: [ALL] }
      seccompProfile: { type: RuntimeDefault }
`;
}
