/**
 * Runbook, run inside test/e2e/k8s-testbed.test.ts while its cluster is up: cairn's gateway in the
 * cluster. Given hello in an environment with `kubernetes.gatewayNamespace` and a canary with
 * analysis, When v1 is deployed, Then the gateway is a hardened host-network DaemonSet answering
 * at the environment's address (no gateway of `cairn up`); When v2 is deployed under load, Then the
 * canary's analysis reads the gateway pods' metrics and v2 takes over with 0 failed requests; a bad
 * v3 fails the analysis and is rolled back by itself; a manual rollback is one write of the
 * gateway's ConfigMap (no pod made), timed from the command to the first answer of the old release.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helloOnKubernetes } from '../../scripts/k8s-lib.mjs';
import { Load } from '../../scripts/load.mjs';
import { kubectl, printControlPlaneWarnings, testbed } from '../helpers/k8s-testbed.js';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';

const STEP_MS = 600_000;
const NS = 'hello-gw';
const GATEWAY_NS = 'hello-gw-gateway';

interface Pod {
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: Record<string, unknown> & {
    containers: Array<Record<string, unknown> & { image: string; securityContext: Record<string, unknown> }>;
    securityContext: Record<string, unknown>;
  };
  status: { conditions: Array<{ type: string; status: string }> };
}

const podsOf = (ns: string) =>
  (JSON.parse(kubectl(['-n', ns, 'get', 'pods', '-o', 'json'])) as { items: Pod[] }).items;
const gatewayDocument = () =>
  JSON.parse(
    kubectl(['-n', NS, 'get', 'configmap', 'cairn-gateway', '-o', 'jsonpath={.data.gateway\\.json}']),
  ) as {
    version: number;
    config: { routes: Array<{ path: string; maxBodyBytes?: number }> };
    pools: Record<string, Array<{ release: string; weight: number }>>;
  };

/** Polls `check` every 50 ms for up to `ms`; its last value. */
async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if ((await check()) || Date.now() > deadline) return check();
    await new Promise((done) => setTimeout(done, 50));
  }
}

/** Registers the scenario's steps; `registry()` is the 127.0.0.1 registry of the enclosing file. */
export function inClusterGatewayScenario(registry: () => string): void {
  describe("cairn's gateway in the cluster: canary with analysis, rollback as a weight flip", () => {
    let ws: HelloWorkspace;
    let port: number;
    let specWithoutPolicy = '';
    const specFile = () => join(ws.dir, 'cairn.yaml');
    const cairn = (args: string[]) => ws.runAsync(args, STEP_MS);
    const deploy = () =>
      cairn(['deploy', 'hello', '--env', 'k8s', '--image', 'hello', '--wait', '--timeout', '300s']);
    const answer = async () =>
      (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.json())) as { version: string };
    const history = async () =>
      (
        JSON.parse((await cairn(['history', 'hello', '--env', 'k8s', '-o', 'json'])).stdout) as {
          deployments: Array<{ phase: string; to: string; from?: string; reason?: string; message?: string }>;
        }
      ).deployments;

    beforeAll(async () => {
      expect((await testbed(['registry', registry()])).code).toBe(0);
      port = await freePort();
      ws = new HelloWorkspace(
        helloOnKubernetes({
          port,
          registry: registry(),
          namespace: NS,
          scaleDownDelay: '10m',
          gatewayNamespace: GATEWAY_NS,
        }),
      );
      expect((await cairn(['init'])).code).toBe(0);
      // The gateway image is signed with the workspace key, like every build.
      expect((await cairn(['keygen'])).code).toBe(0);
      expect((await cairn(['build', 'hello'])).code).toBe(0);
      // The gateway's image passes the environment's gates like a release: until the first step
      // takes it out, a policy of the environment refuses it.
      writeFileSync(
        join(ws.dir, 'policies', 'gateway.yaml'),
        `policies:
  - name: reviewed-gateway
    match: { services: [cairn-gateway] }
    validations:
      - expression: 'image.config.user == "0"'
        message: this gateway build is not reviewed yet
`,
      );
      specWithoutPolicy = readFileSync(specFile(), 'utf8');
      writeFileSync(
        specFile(),
        specWithoutPolicy.replace(/(\n {4}kubernetes: .*)\n/, '$1\n    policies: [policies/gateway.yaml]\n'),
      );
      const up = await cairn(['up', '--detach']);
      expect(up.code, up.stderr).toBe(0);
    }, STEP_MS);

    afterAll(async () => {
      if (ws) printControlPlaneWarnings(ws.dir);
      ws?.cleanup();
      for (const ns of [NS, GATEWAY_NS])
        await testbed(['kubectl', 'delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
    }, STEP_MS);

    it(
      "Given a policy that refuses cairn's gateway image, When v1 is deployed, Then the deploy fails naming the gateway and the policy, and no gateway pod runs",
      async () => {
        try {
          const refused = await deploy();
          expect(refused.code).not.toBe(0);
          expect(refused.stderr).toMatch(
            /admitting cairn-gateway \([0-9a-f]{12}\) to k8s: 1 gate rule\(s\) failed/,
          );
          expect(refused.stderr).toMatch(/reviewed-gateway.*this gateway build is not reviewed yet/);
          expect(podsOf(GATEWAY_NS)).toEqual([]);
          const audit = (await cairn(['audit', 'log'])).stdout;
          expect(audit).toMatch(/admission\.denied.*cairn-gateway/);
        } finally {
          writeFileSync(specFile(), specWithoutPolicy);
        }
      },
      STEP_MS,
    );

    it(
      'When v1 is deployed, Then a hardened host-network gateway pod serves it at the environment address',
      async () => {
        const r = await deploy();
        expect(r.code, r.stderr).toBe(0);
        // `--wait` ends when the rollout has switched; the gateway pods apply the write right after.
        const returned = Date.now();
        const served = await waitFor(async () => (await answer().catch(() => undefined))?.version === 'v1');
        expect(served).toBe(true);
        console.log(`in-cluster gateway: deploy --wait returned → v1 answers: ${Date.now() - returned} ms`);
        const [gw, ...more] = podsOf(GATEWAY_NS);
        expect(more).toEqual([]);
        expect(gw!.status.conditions).toContainEqual(
          expect.objectContaining({ type: 'Ready', status: 'True' }),
        );
        expect(gw!.spec).toMatchObject({ hostNetwork: true, serviceAccountName: 'cairn-gateway' });
        expect(gw!.spec.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 65532,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        const [c] = gw!.spec.containers;
        expect(c!.image).toMatch(new RegExp(`^${registry()}/cairn/cairn-gateway@sha256:[0-9a-f]{64}$`));
        expect(c!.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        const ns = JSON.parse(kubectl(['get', 'namespace', GATEWAY_NS, '-o', 'json'])) as Pod;
        expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
        const role = JSON.parse(kubectl(['-n', NS, 'get', 'role', 'cairn-gateway', '-o', 'json'])) as {
          rules: unknown;
        };
        expect(role.rules).toEqual([
          {
            apiGroups: [''],
            resources: ['configmaps'],
            resourceNames: ['cairn-gateway'],
            verbs: ['get', 'list', 'watch'],
          },
        ]);
        // cairn doctor asks the apiserver for the gateway's permissions too (the admin has them all).
        const doctor = await cairn(['doctor', '--env', 'k8s']);
        expect(doctor.stdout).toContain(
          `every verb cairn needs in namespace ${NS} and gateway namespace ${GATEWAY_NS}`,
        );
        // The door admits the gateway's digest (and nothing else) in the gateway namespace too.
        const unknown = `${registry()}/cairn/cairn-gateway@sha256:${'0'.repeat(64)}`;
        expect(() => kubectl(['-n', GATEWAY_NS, 'run', 'intruder', `--image=${unknown}`])).toThrow(
          /ValidatingAdmissionPolicy 'cairn-gates\.hello-gw'/,
        );
      },
      STEP_MS,
    );

    it(
      "When v2 is deployed under load, Then the canary's analysis passes on the gateway pods' metrics and no request fails",
      async () => {
        ws.useConfig('v2', { version: 'v2', message: 'hello from v2' });
        expect((await cairn(['build', 'hello'])).code).toBe(0);
        const load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 6 }).start(240_000);
        try {
          const r = await deploy();
          expect(r.code, r.stderr).toBe(0);
          await new Promise((done) => setTimeout(done, 1000));
        } finally {
          await load.stop();
        }
        const s = load.summary();
        console.log(`in-cluster canary v1 → v2 under load: ${JSON.stringify(s)}`);
        expect(s.failures).toBe(0);
        expect(s.versions.v1).toBeGreaterThan(0);
        expect(s.versions.v2).toBeGreaterThan(0);
        const last = (await history()).at(-1)!;
        expect(last.phase).toBe('succeeded');
        const status = await cairn(['status', '--env', 'k8s']);
        expect(status.stdout).toMatch(/analysis pass: error rate 0 ≤ 0\.01/);
        expect((await answer()).version).toBe('v2');
      },
      STEP_MS,
    );

    it(
      'When a bad v3 is deployed under load, Then its canary fails the analysis and v2 serves again by itself',
      async () => {
        ws.useConfig('v3', { version: 'v3', message: 'hello from v3', failEvery: 5, delayMs: 400 });
        expect((await cairn(['build', 'hello'])).code).toBe(0);
        const load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 6 }).start(240_000);
        let r: Awaited<ReturnType<typeof deploy>>;
        try {
          r = await deploy();
        } finally {
          await load.stop();
        }
        expect(r.code).not.toBe(0);
        expect((await history()).at(-1)).toMatchObject({ phase: 'failed' });
        expect((await cairn(['history', 'hello', '--env', 'k8s'])).stdout).toMatch(
          /analysis failed: error rate/,
        );
        expect((await answer()).version).toBe('v2');
        // All the weight on one release (v2); v1 kept warm at 0, v3 gone or at 0.
        const serving = gatewayDocument().pools.hello!.filter((p) => p.weight > 0);
        expect(serving.map((p) => p.weight)).toEqual([100]);
        const s = load.summary();
        // Only v3 itself fails (its 20 % errors while it has its 20 % share); v2 loses nothing.
        expect(s.failures - (s.failuresByVersion.v3 ?? 0)).toBe(0);
      },
      STEP_MS,
    );

    it(
      'When rolled back under load, Then one write of the ConfigMap moves traffic to v1 (no pod made), with no failed request',
      async () => {
        const podsBefore = podsOf(NS)
          .map((p) => p.metadata.name)
          .sort();
        const versionBefore = gatewayDocument().version;
        const load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 6 }).start(120_000);
        let firstV1Ms = Number.NaN;
        try {
          await new Promise((done) => setTimeout(done, 500));
          const commanded = Date.now();
          const r = await cairn(['rollback', 'hello', '--env', 'k8s', '--wait']);
          expect(r.code, r.stderr).toBe(0);
          await new Promise((done) => setTimeout(done, 1000));
          const first = load.firstServedBy('v1', commanded);
          firstV1Ms = first ? first.at - commanded : Number.NaN;
        } finally {
          await load.stop();
        }
        console.log(`in-cluster rollback: rollback command → first v1 answer ${firstV1Ms} ms`);
        expect(firstV1Ms).toBeGreaterThan(0);
        const s = load.summary();
        expect(s.failures).toBe(0);
        expect((await answer()).version).toBe('v1');
        // No pod was made: v1's were kept warm (v3's may still be going away).
        expect(podsBefore).toEqual(expect.arrayContaining(podsOf(NS).map((p) => p.metadata.name)));
        expect(gatewayDocument().version).toBeGreaterThan(versionBefore);
      },
      STEP_MS,
    );

    it(
      'When a route changes in cairn.yaml, Then cairn apply writes it to the gateway pods, which serve it (no restart of cairn up)',
      async () => {
        const spec = readFileSync(specFile(), 'utf8');
        writeFileSync(
          specFile(),
          spec.replace(
            /routes:\n/,
            'routes:\n  - { host: "*", path: /small, service: hello, maxBodyBytes: 16 }\n',
          ),
        );
        const plan = await cairn(['apply', '--dry-run']);
        expect(plan.stdout, plan.stderr).toMatch(/\+ +route \(k8s\) \*\/small → hello \{"maxBodyBytes":16\}/);
        const r = await cairn(['apply']);
        expect(r.code, r.stderr).toBe(0);
        expect(
          gatewayDocument().config.routes.map((route) => `${route.path} ${route.maxBodyBytes ?? ''}`),
        ).toContain('/small 16');
        const big = await fetch(`http://127.0.0.1:${port}/small`, { method: 'POST', body: 'x'.repeat(64) });
        expect(big.status).toBe(413);
        expect((await answer()).version).toBe('v1');
        const log = (await cairn(['audit', 'log'])).stdout;
        expect(log).toMatch(/edge\.applied/);
      },
      STEP_MS,
    );
  });
}
