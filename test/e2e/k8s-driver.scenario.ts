/**
 * Runbook, run inside test/e2e/k8s-testbed.test.ts while its cluster is up (one testbed per
 * machine): cairn deploys a release into a Kubernetes environment. Given hello with a secret and a
 * spec whose environment `k8s` names the testbed, When it is deployed with --wait, Then its pods
 * are Ready with the hardened spec read back from the live objects, the image pinned by digest, the
 * secret an immutable Secret that etcd holds encrypted, and `cairn status` shows the pods. A
 * kubeconfig that points nowhere fails the deploy naming the environment, exit 1, state unchanged;
 * a canary to the cluster is refused as not yet supported. A configuration file of the
 * environment reaches the pods from an immutable ConfigMap named by its digest.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helloOnKubernetes } from '../../scripts/k8s-lib.mjs';
import { type CliResult, cairnFollow } from '../helpers/cli.js';
import { BIN, kubectl, printControlPlaneWarnings, STATE, testbed } from '../helpers/k8s-testbed.js';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';

const STEP_MS = 600_000;
const NS = 'hello-k8s';

/** hello in the testbed's environment `k8s`, and `broken`, whose kubeconfig points nowhere. */
const spec = (port: number, brokenPort: number, registry: string) =>
  helloOnKubernetes({
    port,
    registry,
    namespace: NS,
    scaleDownDelay: '2s',
    secrets: true,
    policies: ['policies/release.yaml'],
    moreEnvironments: `  broken:
    gateway: { listen: "127.0.0.1:${brokenPort}" }
    kubernetes: { kubeconfig: nowhere.kubeconfig, namespace: hello-broken, registry: "${registry}/cairn" }
`,
  });

/** A kubeconfig whose server nothing listens on. */
const NOWHERE = `apiVersion: v1
kind: Config
clusters: [{ name: nowhere, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: nobody, user: { token: not-a-real-token } }]
contexts: [{ name: nowhere, context: { cluster: nowhere, user: nobody } }]
current-context: nowhere
`;

/** The raw value etcd stores for an object (as the apiserver wrote it). */
function etcdRaw(key: string): Buffer {
  const pki = join(STATE, 'pki');
  return execFileSync(join(BIN, '..', 'etcd-v3.6.16', 'etcdctl'), [
    '--endpoints',
    `https://127.0.0.1:${process.env.CAIRN_K8S_ETCD_PORT ?? 23790}`,
    ...['--cacert', join(pki, 'ca.crt'), '--cert', join(pki, 'apiserver-etcd-client.crt')],
    ...['--key', join(pki, 'apiserver-etcd-client.key'), 'get', key, '--print-value-only'],
  ]);
}

interface Pod {
  metadata: { name: string; labels: Record<string, string> };
  spec: Record<string, unknown> & {
    containers: Array<Record<string, unknown> & { image: string; securityContext: Record<string, unknown> }>;
    securityContext: Record<string, unknown>;
    volumes: Array<Record<string, unknown>>;
  };
  status: {
    conditions: Array<{ type: string; status: string }>;
    containerStatuses: Array<{ imageID: string }>;
  };
}

/** Polls `check` every 200 ms for up to `ms`; its last truthy value, or undefined. */
async function waitFor<T>(check: () => Promise<T>, ms = 60_000): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value || Date.now() > deadline) return value || undefined;
    await new Promise((done) => setTimeout(done, 200));
  }
}

/** Registers the scenario's steps; `registry()` is the 127.0.0.1 registry of the enclosing file. */
export function kubernetesDriverScenario(registry: () => string): void {
  describe('cairn deploys a release into a Kubernetes environment (the testbed)', () => {
    let ws: HelloWorkspace;
    let gatewayPort = 0;
    let digest: string;
    let plannedV1 = '';
    const token = `tok-${randomBytes(24).toString('base64url')}`;
    const outputs: CliResult[] = [];
    const cairn = async (args: string[], input?: string) => {
      const r = await ws.runAsync(args, STEP_MS, input);
      outputs.push(r);
      return r;
    };
    const auditEntries = async () =>
      (
        JSON.parse((await cairn(['audit', 'log', '-o', 'json'])).stdout) as {
          entries: Array<{
            action: string;
            subject: Record<string, string>;
            reason?: string;
            detail?: Record<string, unknown>;
          }>;
        }
      ).entries;
    const planObjects = async (env: string, expectCode: number) => {
      const r = await cairn(['plan', '--env', env, '--detailed-exitcode', '-o', 'json']);
      expect(r.code, r.stderr + r.stdout).toBe(expectCode);
      const doc = JSON.parse(r.stdout) as {
        kubernetes: Array<{
          reachable: boolean;
          unreachable?: string;
          objects: Array<{ action: string; kind: string; name: string; note?: string }>;
        }>;
      };
      const c = doc.kubernetes[0]!;
      return { ...c, rows: c.objects.map((o) => `${o.action} ${o.kind}/${o.name}`) };
    };
    // Killed after 120 s at the latest: a follow that never ends fails the test instead of hanging it.
    const follow = (args: string[]) => cairnFollow(args, { cwd: ws.dir, timeoutMs: 120_000 });
    const status = async (env: string) =>
      JSON.parse((await cairn(['status', '--env', env, '-o', 'json'])).stdout) as {
        services: Array<{ instances: Array<{ id: string; state: string }> }>;
      };

    beforeAll(async () => {
      expect((await testbed(['registry', registry()])).code).toBe(0);
      gatewayPort = await freePort();
      ws = new HelloWorkspace(spec(gatewayPort, await freePort(), registry()));
      writeFileSync(join(ws.dir, 'nowhere.kubeconfig'), NOWHERE);
      expect((await cairn(['init'])).code).toBe(0);
      const built = await cairn(['build', 'hello', '-o', 'json']);
      expect(built.code, built.stderr).toBe(0);
      digest = (JSON.parse(built.stdout) as { images: Array<{ digest: string }> }).images[0]!.digest;
      expect((await cairn(['secret', 'set', 'API_TOKEN'], token)).code).toBe(0);
      const up = await cairn(['up', '--detach']);
      expect(up.code, up.stderr).toBe(0);
    }, STEP_MS);

    afterAll(async () => {
      if (ws) printControlPlaneWarnings(ws.dir);
      ws?.cleanup();
      // The cluster goes down with the testbed; the namespace goes now so a failure leaves less behind.
      await testbed(['kubectl', 'delete', 'namespace', NS, '--wait=false', '--ignore-not-found']);
    }, STEP_MS);

    it(
      'Before the first deploy, `cairn plan` lists the Deployment, Secret and door objects it would create, read from the cluster',
      async () => {
        const plan = await planObjects('k8s', 2);
        expect(plan.reachable).toBe(true);
        const deployment = plan.rows.find((r) => r.startsWith('create Deployment/'));
        expect(deployment).toMatch(/^create Deployment\/hello-rel-[0-9a-f]{12}$/);
        expect(plan.rows).toEqual(
          expect.arrayContaining([
            `create Namespace/${NS}`,
            `create ValidatingAdmissionPolicy/cairn-gates.${NS}`,
            `create ValidatingAdmissionPolicyBinding/cairn-gates.${NS}`,
            `create ValidatingAdmissionPolicy/cairn-policy.${NS}.non-root`,
            'create NetworkPolicy/cairn-hello',
            'create ConfigMap/cairn-admitted',
            'create Secret/cairn-api-token-v1',
          ]),
        );
        expect(plan.rows.filter((r) => !r.startsWith('create '))).toEqual([]);
        const text = await cairn(['plan', '--env', 'k8s']);
        expect(text.code).toBe(0);
        expect(text.stdout).toContain(
          `+   ${deployment!.replace('create ', '').replace('/', ' ')} (hello) will be created`,
        );
        expect(text.stdout).toContain('Running releases are never changed in place');
        plannedV1 = deployment!.replace('create Deployment/', '');
      },
      STEP_MS,
    );

    it(
      'When hello v1 is deployed with --wait, Then its pods are Ready, hardened, pinned by digest, and cairn status shows them',
      async () => {
        const started = Date.now();
        const r = await cairn([
          'deploy',
          'hello',
          '--env',
          'k8s',
          '--image',
          'hello',
          '--wait',
          '--timeout',
          '300s',
        ]);
        const readyMs = Date.now() - started;
        expect(r.code, r.stderr).toBe(0);
        console.log(`k8s deploy → all pods Ready: ${readyMs} ms`);
        const pods = (JSON.parse(kubectl(['-n', NS, 'get', 'pods', '-o', 'json'])) as { items: Pod[] }).items;
        expect(pods).toHaveLength(2);
        const image = `${registry()}/cairn/hello@${digest}`;
        for (const pod of pods) {
          expect(pod.status.conditions).toContainEqual(
            expect.objectContaining({ type: 'Ready', status: 'True' }),
          );
          expect(pod.metadata.labels).toMatchObject({ 'cairn.dev/service': 'hello', 'cairn.dev/env': 'k8s' });
          expect(pod.metadata.labels['cairn.dev/release']).toMatch(/^rel-[0-9a-f]{12}$/);
          expect(pod.spec.automountServiceAccountToken).toBe(false);
          expect(pod.spec.dnsPolicy).toBe('Default');
          expect(pod.spec.securityContext).toMatchObject({
            runAsNonRoot: true,
            runAsUser: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          });
          const [c] = pod.spec.containers;
          expect(c!.image).toBe(image);
          expect(pod.status.containerStatuses[0]!.imageID).toContain(digest);
          expect(c!.securityContext).toMatchObject({
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          });
          expect(c!.readinessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 8080 } });
          expect(c!.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 8080 } });
          expect(pod.spec.volumes).toContainEqual({ name: 'tmpfs-0', emptyDir: { medium: 'Memory' } });
        }
        const ns = JSON.parse(kubectl(['get', 'namespace', NS, '-o', 'json'])) as Pod;
        expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
        const deploy = JSON.parse(
          kubectl(['-n', NS, 'get', 'deployments', '-o', 'json', '--show-managed-fields']),
        ) as {
          items: unknown[];
        };
        expect(deploy.items).toHaveLength(1);
        expect(JSON.stringify(deploy)).toMatch(/"manager":"cairn","operation":"Apply"/);
        const live = (await status('k8s')).services[0]!.instances;
        expect(live.map((i) => i.id).sort()).toEqual(pods.map((p) => p.metadata.name).sort());
        expect(live.every((i) => i.state === 'healthy')).toBe(true);
        expect((await cairn(['ps', '--env', 'k8s'])).stdout).toContain(pods[0]!.metadata.name);
        // The Deployment the plan named is the one the deploy made; now nothing is left to do.
        expect(pods[0]!.metadata.name.startsWith(`${plannedV1}-`)).toBe(true);
        const after = await planObjects('k8s', 0);
        expect(after.rows.filter((r) => !r.startsWith('unchanged '))).toEqual([]);
        expect(after.rows).toContain(`unchanged Deployment/${plannedV1}`);
      },
      STEP_MS,
    );

    it(
      'Then the secret is an immutable Secret named by version, encrypted in etcd, and its value is nowhere else',
      async () => {
        const secret = JSON.parse(
          kubectl(['-n', NS, 'get', 'secret', 'cairn-api-token-v1', '-o', 'json']),
        ) as {
          immutable: boolean;
          data: { value: string };
        };
        expect(secret.immutable).toBe(true);
        expect(Buffer.from(secret.data.value, 'base64').toString()).toBe(token);
        const raw = etcdRaw(`/registry/secrets/${NS}/cairn-api-token-v1`).toString('latin1');
        expect(raw.startsWith('k8s:enc:secretbox:v1:key1:')).toBe(true);
        expect(raw).not.toContain(token);
        const forms = [token, Buffer.from(token).toString('base64')];
        const elsewhere = [
          kubectl(['-n', NS, 'get', 'deployments,pods,events', '-o', 'json']),
          ...outputs.map((o) => o.stdout + o.stderr),
          readFileSync(join(ws.dir, '.cairn', 'logs', 'control-plane.log'), 'utf8'),
          (await cairn(['audit', 'log', '-o', 'json'])).stdout,
        ];
        for (const text of elsewhere) for (const form of forms) expect(text).not.toContain(form);
      },
      STEP_MS,
    );

    it(
      'Then `cairn logs` reads a pod’s output from the cluster, -f follows it until Ctrl-C or the pod goes away, and `cairn trace` goes pod → release → image',
      async () => {
        const pods = kubectl(['-n', NS, 'get', 'pods', '-o', 'jsonpath={.items[*].metadata.name}']).split(
          ' ',
        );
        const one = await cairn(['logs', pods[0]!]);
        expect(one.code, one.stderr).toBe(0);
        expect(one.stdout).toMatch(/^\{"msg":"listening","version":"v1"/m);
        const all = await cairn(['logs', 'hello', '--env', 'k8s']);
        expect(all.code, all.stderr).toBe(0);
        for (const pod of pods) expect(all.stdout).toContain(`${pod} | {"msg":"listening"`);
        // -f of the service: every pod's lines as they come, until Ctrl-C, which ends it cleanly.
        const service = follow(['logs', 'hello', '--env', 'k8s', '-f']);
        const listening = (pod: string) => `${pod} | {"msg":"listening"`;
        expect(
          await waitFor(async () => pods.every((p) => service.out().includes(listening(p))), 30_000),
        ).toBe(true);
        const ended = await service.interrupt();
        expect(ended.code, ended.stderr).toBe(0);
        expect(ended.stderr).not.toContain('    at ');
        // -f of one pod: its later lines, and it ends by itself when the pod goes away.
        const single = follow(['logs', pods[0]!, '-f']);
        expect(await waitFor(async () => single.out().includes('{"msg":"listening"'), 30_000)).toBe(true);
        kubectl(['-n', NS, 'delete', 'pod', pods[0]!, '--wait=false']);
        const gone = await single.done;
        expect(gone.code, gone.stderr).toBe(0);
        expect(gone.stdout).toMatch(/^\{"msg":"stopping","signal":"SIGTERM"/m);
        const trace = await cairn(['trace', pods[0]!, '-o', 'json']);
        expect(trace.code, trace.stderr).toBe(0);
        const t = JSON.parse(trace.stdout) as {
          instance: { id: string };
          releases: Array<{ id: string }>;
          imageDigest: string;
        };
        expect(t.instance.id).toBe(pods[0]);
        expect(t.imageDigest).toBe(digest);
        expect(pods[0]).toContain(t.releases[0]!.id);
      },
      STEP_MS,
    );

    it(
      'Then the apiserver itself refuses a pod whose image is not an admitted digest, and cairn records the refusals it sees',
      async () => {
        const vaps = JSON.parse(kubectl(['get', 'validatingadmissionpolicybindings', '-o', 'json'])) as {
          items: Array<{ metadata: { name: string }; spec: { validationActions: string[] } }>;
        };
        expect(vaps.items.map((b) => b.metadata.name).sort()).toEqual([
          `cairn-gates.${NS}`,
          `cairn-policy.${NS}.non-root`,
          `cairn-policy.${NS}.read-only-config`,
        ]);
        expect(vaps.items.every((b) => b.spec.validationActions.join() === 'Deny')).toBe(true);
        const allowed = JSON.parse(
          kubectl(['-n', NS, 'get', 'configmap', 'cairn-admitted', '-o', 'json']),
        ) as {
          data: Record<string, string>;
        };
        expect(allowed.data[digest.replace(':', '.')]).toMatch(
          /^release=rel-[0-9a-f]{12} service=hello policies=,non-root,read-only-config,$/,
        );
        const hardened = JSON.stringify({
          spec: {
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'x',
                image: 'IMAGE',
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        });
        const run = (name: string, image: string) =>
          kubectl([
            ...['-n', NS, 'run', name, `--image=${image}`],
            `--overrides=${hardened.replace('IMAGE', image)}`,
          ]);
        // An image by tag (nothing says it was signed or passed a gate), and a digest cairn never admitted.
        const unsigned = `${registry()}/cairn/hello:latest`;
        const unknown = `${registry()}/cairn/hello@sha256:${'0'.repeat(64)}`;
        expect(() => run('by-tag', unsigned)).toThrow(
          new RegExp(
            `ValidatingAdmissionPolicy 'cairn-gates.${NS}' .* denied request: image ${unsigned} is not a release that passed cairn's gates in environment k8s`,
          ),
        );
        expect(() => run('by-digest', unknown)).toThrow(
          /cairn-gates.* denied request: image .*@sha256:0{64} is not a release/,
        );
        // The admitted digest passes the apiserver's check (server-side dry run: nothing is made).
        expect(
          kubectl([
            '-n',
            NS,
            'run',
            'ok',
            `--image=${registry()}/cairn/hello@${digest}`,
            `--overrides=${hardened.replace('IMAGE', `${registry()}/cairn/hello@${digest}`)}`,
            '--dry-run=server',
          ]),
        ).toContain('created (server dry run)');
        // A controller's pods are refused the same way; cairn sees the event and records it.
        const intruder = `apiVersion: apps/v1
kind: Deployment
metadata: { name: intruder, namespace: ${NS} }
spec:
  replicas: 1
  selector: { matchLabels: { app: intruder } }
  template:
    metadata: { labels: { app: intruder } }
    spec: ${JSON.stringify(JSON.parse(hardened.replace('IMAGE', unknown)).spec)}
`;
        kubectl(['apply', '-f', '-'], intruder);
        const refused = await waitFor(async () =>
          (await auditEntries()).find((e) => e.action === 'admission.refused_by_cluster'),
        );
        expect(refused?.subject.instance).toMatch(/^ReplicaSet\/intruder-/);
        expect(refused?.reason).toContain(`ValidatingAdmissionPolicy 'cairn-gates.${NS}'`);
        kubectl(['-n', NS, 'delete', 'deployment', 'intruder']);
        // The door itself: a Binding deleted, a digest slipped into the allow-list — both undone.
        const binding = `cairn-gates.${NS}`;
        kubectl(['delete', 'validatingadmissionpolicybinding', binding]);
        let started = Date.now();
        expect(
          await waitFor(async () =>
            kubectl(['get', 'validatingadmissionpolicybindings', '-o', 'name']).includes(binding),
          ),
        ).toBe(true);
        console.log(`k8s door (Binding deleted) → back: ${Date.now() - started} ms`);
        const slipped = `sha256.${'0'.repeat(64)}`;
        const patch = JSON.stringify({
          data: { [slipped]: 'release=rel-000000000000 service=hello policies=,non-root,read-only-config,' },
        });
        kubectl(['-n', NS, 'patch', 'configmap', 'cairn-admitted', '--type', 'merge', '-p', patch]);
        started = Date.now();
        const keys = () =>
          kubectl(['-n', NS, 'get', 'configmap', 'cairn-admitted', '-o', 'jsonpath={.data}']);
        expect(await waitFor(async () => !keys().includes(slipped))).toBe(true);
        console.log(`k8s door (digest slipped into the allow-list) → removed: ${Date.now() - started} ms`);
        expect(keys()).toContain(digest.replace(':', '.'));
        expect(() => run('after', unknown)).toThrow(/cairn-gates.* denied request/);
        const door = (await auditEntries())
          .filter((e) => e.action === 'drift.detected')
          .map((e) => `${e.subject.instance} ${e.reason}`);
        expect(door).toContainEqual(
          `ValidatingAdmissionPolicyBinding/${binding} 1 difference(s), first deleted`,
        );
        expect(
          door.some((d) =>
            d.startsWith(
              `ConfigMap/cairn-admitted 1 difference(s), first ${slipped}: written by kubectl-patch`,
            ),
          ),
        ).toBe(true);
      },
      STEP_MS,
    );

    it(
      'Then a NetworkPolicy lets the pods accept only from the gateway and the node, and reach nothing unlisted',
      () => {
        const np = JSON.parse(kubectl(['-n', NS, 'get', 'networkpolicy', 'cairn-hello', '-o', 'json'])) as {
          spec: Record<string, unknown>;
        };
        expect(np.spec).toEqual({
          podSelector: { matchLabels: { 'cairn.dev/service': 'hello', 'cairn.dev/env': 'k8s' } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [
            {
              from: [
                { podSelector: { matchLabels: { 'cairn.dev/component': 'gateway' } } },
                { ipBlock: { cidr: '10.244.0.1/32' } },
              ],
              ports: [{ protocol: 'TCP', port: 8080 }],
            },
          ],
        });
      },
      STEP_MS,
    );

    it(
      'When someone changes cairn’s Deployment (set image, scale), Then cairn puts it back within seconds and audits it; `cairn drift` reports what it finds',
      async () => {
        const name = kubectl(['-n', NS, 'get', 'deployments', '-o', 'jsonpath={.items[0].metadata.name}']);
        const image = () =>
          kubectl([
            '-n',
            NS,
            'get',
            'deployment',
            name,
            '-o',
            'jsonpath={.spec.template.spec.containers[0].image}',
          ]);
        const replicas = () =>
          kubectl(['-n', NS, 'get', 'deployment', name, '-o', 'jsonpath={.spec.replicas}']);
        const original = image();
        let started = Date.now();
        kubectl(['-n', NS, 'set', 'image', `deployment/${name}`, `hello=${registry()}/cairn/hello:latest`]);
        expect(await waitFor(async () => image() === original)).toBe(true);
        console.log(`k8s drift (kubectl set image) → Deployment restored: ${Date.now() - started} ms`);
        started = Date.now();
        kubectl(['-n', NS, 'scale', `deployment/${name}`, '--replicas=4']);
        expect(await waitFor(async () => replicas() === '2')).toBe(true);
        console.log(`k8s drift (kubectl scale) → replicas restored: ${Date.now() - started} ms`);
        const entries = await auditEntries();
        const detected = entries.filter(
          (e) => e.action === 'drift.detected' && e.subject.instance === `Deployment/${name}`,
        );
        expect(detected.map((e) => e.reason).join('\n')).toMatch(
          /image: …@sha256:[0-9a-f]{64} → .*hello:latest \(by kubectl-set\)/,
        );
        expect(detected.map((e) => e.reason).join('\n')).toContain(
          'spec.replicas: 2 → 4 (by kubectl (scale))',
        );
        const repaired = entries.filter(
          (e) => e.action === 'drift.repaired' && e.subject.instance === `Deployment/${name}`,
        );
        expect(repaired.length).toBeGreaterThanOrEqual(2);
        for (const r of repaired) console.log(`k8s drift repair (audited): ${String(r.detail?.repairMs)} ms`);
        expect((await cairn(['drift', '--env', 'k8s'])).code).toBe(0);
        // Without cairn up nothing repairs: `cairn drift` finds the change itself, from the cluster.
        expect((await cairn(['down'])).code).toBe(0);
        kubectl(['-n', NS, 'scale', `deployment/${name}`, '--replicas=3']);
        const drift = await cairn(['drift', '--env', 'k8s']);
        expect(drift.code, drift.stderr).toBe(2);
        expect(drift.stdout).toContain(`k8s: Deployment/${name} drifted`);
        expect(drift.stdout).toContain('spec.replicas: 2 → 3 (by kubectl (scale))');
        // The door too, judged as the watch judges it, and put back by `cairn drift` itself.
        const binding = `cairn-gates.${NS}`;
        kubectl(['delete', 'validatingadmissionpolicybinding', binding]);
        const slipped = `sha256.${'1'.repeat(64)}`;
        const patch = JSON.stringify({
          data: { [slipped]: 'release=rel-000000000000 service=hello policies=,' },
        });
        kubectl(['-n', NS, 'patch', 'configmap', 'cairn-admitted', '--type', 'merge', '-p', patch]);
        const door = await cairn(['drift', '--env', 'k8s', '-o', 'json']);
        expect(door.code, door.stderr).toBe(2);
        const found = (
          JSON.parse(door.stdout) as {
            kubernetes: Array<{ findings: Array<{ object: string; reasons: string[]; repairMs?: number }> }>;
          }
        ).kubernetes[0]!.findings;
        expect(found.map((f) => [f.object, f.reasons[0], f.repairMs !== undefined])).toEqual([
          [`Deployment/${name}`, 'spec.replicas: 2 → 3 (by kubectl (scale))', false],
          ['ConfigMap/cairn-admitted', `${slipped}: written by kubectl-patch`, true],
          [`ValidatingAdmissionPolicyBinding/${binding}`, 'deleted', true],
        ]);
        expect(kubectl(['get', 'validatingadmissionpolicybindings', '-o', 'name'])).toContain(binding);
        for (const f of found.filter((x) => x.repairMs !== undefined))
          console.log(`k8s cairn drift put back ${f.object}: ${f.repairMs} ms`);
        expect(
          kubectl(['-n', NS, 'get', 'configmap', 'cairn-admitted', '-o', 'jsonpath={.data}']),
        ).not.toContain(slipped);
        const again = await cairn(['drift', '--env', 'k8s']);
        expect(again.stdout).not.toContain('ValidatingAdmissionPolicyBinding');
        expect(again.stdout).not.toContain('cairn-admitted');
        const putBack = (await auditEntries()).filter(
          (e) =>
            e.action === 'drift.repaired' &&
            e.subject.instance === `ValidatingAdmissionPolicyBinding/${binding}`,
        );
        expect(putBack.map((e) => e.reason)).toContain('re-applied by cairn drift');
        expect((await cairn(['up', '--detach'])).code).toBe(0);
        expect(await waitFor(async () => replicas() === '2')).toBe(true);
        expect((await cairn(['drift', '--env', 'k8s'])).code).toBe(0);
      },
      STEP_MS,
    );

    it(
      'When v2 is deployed, Then it gets a Deployment of its own, and v1’s is deleted after the scale-down delay',
      async () => {
        const v1 = kubectl(['-n', NS, 'get', 'deployments', '-o', 'jsonpath={.items[*].metadata.name}']);
        ws.useConfig('v2', { version: 'v2', message: 'hello from v2' });
        // A rotation: v2 pins the secret's version 2; version 1's Secret goes once no release pins it.
        expect((await cairn(['secret', 'rotate', 'API_TOKEN'], `${token}-2`)).code).toBe(0);
        expect((await cairn(['build', 'hello'])).code).toBe(0);
        // The plan: v2 is a new Deployment, v1's is deleted after the delay; nothing changes in place.
        const plan = await planObjects('k8s', 2);
        const v2 = plan.rows
          .find((r) => r.startsWith('create Deployment/'))
          ?.replace('create Deployment/', '');
        expect(v2).toMatch(/^hello-rel-[0-9a-f]{12}$/);
        expect(v2).not.toBe(v1);
        expect(plan.rows).toEqual(
          expect.arrayContaining([
            `delete-later Deployment/${v1}`,
            'create Secret/cairn-api-token-v2',
            'delete-later Secret/cairn-api-token-v1',
            'replace ConfigMap/cairn-admitted',
          ]),
        );
        expect(plan.rows.filter((r) => r.includes(v1))).toEqual([`delete-later Deployment/${v1}`]);
        const text = await cairn(['plan', '--env', 'k8s']);
        expect(text.stdout).toMatch(
          new RegExp(`^ {2}- {3}Deployment ${v1} \\(hello\\) will be deleted later`, 'm'),
        );
        console.log(`k8s plan of v2:\n${text.stdout}`);
        const started = Date.now();
        const r = await cairn([
          'deploy',
          'hello',
          '--env',
          'k8s',
          '--image',
          'hello',
          '--wait',
          '--timeout',
          '300s',
        ]);
        expect(r.code, r.stderr).toBe(0);
        console.log(`k8s deploy of v2 → all its pods Ready and switched: ${Date.now() - started} ms`);
        kubectl(['-n', NS, 'wait', '--for=delete', `deployment/${v1}`, '--timeout=120s']);
        const now = kubectl(['-n', NS, 'get', 'deployments', '-o', 'jsonpath={.items[*].metadata.name}']);
        expect(now).not.toBe(v1);
        expect(now).toMatch(/^hello-rel-[0-9a-f]{12}$/);
        expect(now).toBe(v2);
        const release = now.slice('hello-'.length);
        const deadline = Date.now() + 120_000;
        let live = (await status('k8s')).services[0]!.instances;
        while (live.some((i) => !i.id.startsWith(now)) && Date.now() < deadline) {
          await new Promise((done) => setTimeout(done, 500));
          live = (await status('k8s')).services[0]!.instances;
        }
        expect(live).toHaveLength(2);
        expect(live.every((i) => i.id.startsWith(`hello-${release}`) && i.state === 'healthy')).toBe(true);
        const secrets = () =>
          kubectl([
            '-n',
            NS,
            'get',
            'secrets',
            '-l',
            'app.kubernetes.io/managed-by=cairn',
            '-o',
            'jsonpath={.items[*].metadata.name}',
          ]);
        expect(await waitFor(async () => secrets() === 'cairn-api-token-v2')).toBe(true);
      },
      STEP_MS,
    );

    it(
      'When v3 crashes at start, Then its crash-looping pods fail the rollout with the reason, and v2 keeps serving',
      async () => {
        const serving = kubectl(['-n', NS, 'get', 'deployments', '-o', 'jsonpath={.items[*].metadata.name}']);
        ws.useConfig('v3', { version: 'v3' });
        writeFileSync(join(ws.dir, 'config', 'v3.json'), '{ not json');
        expect((await cairn(['build', 'hello'])).code).toBe(0);
        const started = Date.now();
        const r = await cairn([
          'deploy',
          'hello',
          '--env',
          'k8s',
          '--image',
          'hello',
          '--wait',
          '--timeout',
          '240s',
        ]);
        console.log(`k8s deploy of a crashing v3 → rollout failed: ${Date.now() - started} ms`);
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toMatch(
          /the container exited with code 1 \(Error\), \d+ restart\(s\), CrashLoopBackOff/,
        );
        expect(
          await waitFor(
            async () =>
              kubectl(['-n', NS, 'get', 'deployments', '-o', 'jsonpath={.items[*].metadata.name}']) ===
              serving,
          ),
        ).toBe(true);
        const live = (await status('k8s')).services[0]!.instances;
        expect(live.filter((i) => i.state === 'healthy').map((i) => i.id.slice(0, serving.length))).toEqual([
          serving,
          serving,
        ]);
      },
      STEP_MS,
    );

    it(
      'When the environment names a configuration file, Then the pods have it read-only from an immutable ConfigMap named by its digest, put back when deleted, and the old one goes when no release pins it',
      async () => {
        // hello reads the file HELLO_CONFIG names: the image's own config (v3) would crash it.
        const useFile = (version: string) =>
          writeFileSync(join(ws.dir, 'config', 'k8s.json'), JSON.stringify({ version }));
        useFile('k8s-file-1');
        ws.edit(
          /(\n {4}deploy: [^\n]*\n)/,
          '$1    environments:\n      k8s: { env: { HELLO_CONFIG: /etc/hello/k8s.json }, files: { /etc/hello/k8s.json: ./config/k8s.json } }\n',
        );
        expect((await cairn(['build', 'hello'])).code).toBe(0);
        const configMap = (v: string) =>
          `cairn-file-${createHash('sha256')
            .update(JSON.stringify({ version: v }))
            .digest('hex')}`;
        const first = configMap('k8s-file-1');
        expect((await planObjects('k8s', 2)).rows).toContain(`create ConfigMap/${first}`);
        const deploy = () =>
          cairn(['deploy', 'hello', '--env', 'k8s', '--image', 'hello', '--wait', '--timeout', '300s']);
        let r = await deploy();
        expect(r.code, r.stderr).toBe(0);
        const answer = async () => {
          const res = await fetch(`http://127.0.0.1:${gatewayPort}/`).catch(() => undefined);
          return res?.ok ? ((await res.json()) as { version: string }).version : undefined;
        };
        expect(await waitFor(async () => (await answer()) === 'k8s-file-1', 30_000)).toBe(true);
        const cm = JSON.parse(kubectl(['-n', NS, 'get', 'configmap', first, '-o', 'json'])) as {
          immutable: boolean;
          data: { content: string };
        };
        expect(cm.immutable).toBe(true);
        expect(cm.data.content).toBe(JSON.stringify({ version: 'k8s-file-1' }));
        // The previous release's pods go after the scale-down delay; then every pod mounts the file.
        const mounts = () =>
          (JSON.parse(kubectl(['-n', NS, 'get', 'pods', '-o', 'json'])) as { items: Pod[] }).items.map((p) =>
            (p.spec.containers[0]!.volumeMounts as Array<Record<string, unknown>>).find(
              (m) => m.mountPath === '/etc/hello/k8s.json',
            ),
          );
        expect(await waitFor(async () => mounts().every((m) => m !== undefined))).toBe(true);
        const [mount] = mounts();
        expect(mount).toMatchObject({ subPath: 'content', readOnly: true });
        expect((await planObjects('k8s', 0)).rows).toContain(`unchanged ConfigMap/${first}`);
        // Immutable: its content cannot be edited; deleted, cairn up writes it again.
        expect(() =>
          kubectl([
            '-n',
            NS,
            'patch',
            'configmap',
            first,
            '--type',
            'merge',
            '-p',
            '{"data":{"content":"x"}}',
          ]),
        ).toThrow(/immutable/);
        kubectl(['-n', NS, 'delete', 'configmap', first]);
        const started = Date.now();
        const exists = (name: string) =>
          kubectl(['-n', NS, 'get', 'configmaps', '-o', 'name']).split('\n').includes(`configmap/${name}`);
        expect(await waitFor(async () => exists(first))).toBe(true);
        console.log(`k8s config-file ConfigMap deleted → back: ${Date.now() - started} ms`);
        const audited = (await auditEntries()).filter(
          (e) => e.action === 'drift.detected' && e.subject.instance === `ConfigMap/${first}`,
        );
        expect(audited.map((e) => e.reason)).toContain('1 difference(s), first deleted');
        // A new content is a new release with a new ConfigMap; the old one goes once nothing pins it.
        // (An object made in the last 10 s is never collected: the put-back one must be older by then.)
        await new Promise((done) => setTimeout(done, Math.max(0, started + 11_000 - Date.now())));
        useFile('k8s-file-2');
        const second = configMap('k8s-file-2');
        const plan = await planObjects('k8s', 2);
        expect(plan.rows).toEqual(
          expect.arrayContaining([`create ConfigMap/${second}`, `delete-later ConfigMap/${first}`]),
        );
        r = await deploy();
        expect(r.code, r.stderr).toBe(0);
        expect(await waitFor(async () => (await answer()) === 'k8s-file-2', 30_000)).toBe(true);
        expect(await waitFor(async () => !exists(first) && exists(second), 90_000)).toBe(true);
      },
      STEP_MS,
    );

    it(
      'cairn doctor checks each cluster: version, every permission cairn needs, ValidatingAdmissionPolicy served',
      async () => {
        const r = await cairn(['doctor', '-o', 'json']);
        expect(r.code, r.stderr).toBe(0);
        const checks = (
          JSON.parse(r.stdout) as {
            kubernetes: Record<string, Array<{ ok: boolean; check: string; detail: string }>>;
          }
        ).kubernetes;
        expect(checks.k8s!.map((c) => [c.check, c.ok])).toEqual([
          ['apiserver', true],
          ['permissions', true],
          ['admission policies', true],
        ]);
        expect(checks.k8s![0]!.detail).toContain('v1.36.3');
        expect(checks.broken).toEqual([
          expect.objectContaining({
            ok: false,
            check: 'apiserver',
            detail: expect.stringContaining('environment broken'),
          }),
        ]);
        expect((await cairn(['doctor', '--env', 'k8s'])).stdout).toMatch(
          /^ok {3}k8s: permissions +every verb cairn needs in namespace hello-k8s$/m,
        );
      },
      STEP_MS,
    );

    it(
      'When the environment’s kubeconfig points nowhere, Then the deploy fails naming the environment, exit 1, and nothing changed; a canary is refused',
      async () => {
        const before = await status('broken');
        const r = await cairn([
          'deploy',
          'hello',
          '--env',
          'broken',
          '--image',
          'hello',
          '--wait',
          '--timeout',
          '60s',
        ]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(
          /^error: reaching the cluster in environment broken \(https:\/\/127\.0\.0\.1:1\): /m,
        );
        expect(r.stderr).toContain('hint: check that the cluster at https://127.0.0.1:1 is up');
        expect(r.stderr).not.toContain('    at ');
        expect((await status('broken')).services).toEqual(before.services);
        expect(before.services).toEqual([]);
        // `cairn plan` says the cluster did not answer, and what it would create from the spec alone.
        const plan = await cairn(['plan', '--env', 'broken']);
        expect(plan.code, plan.stderr).toBe(0);
        expect(plan.stdout).toMatch(
          /the cluster is not reachable: reaching the cluster in environment broken/,
        );
        expect(plan.stdout).toMatch(
          /^ {2}\+ {3}Deployment hello-rel-[0-9a-f]{12} \(hello\) will be created/m,
        );
        expect((await planObjects('broken', 2)).reachable).toBe(false);
        ws.edit('strategy: bluegreen', 'strategy: canary');
        const canary = await cairn(['deploy', 'hello', '--env', 'k8s', '--image', 'hello']);
        expect(canary.code).toBe(1);
        expect(canary.stderr).toContain(
          "a canary in a Kubernetes environment needs cairn's gateway in the cluster",
        );
        expect(canary.stderr).toContain('hint: set environments.k8s.kubernetes.gatewayNamespace');
        ws.edit('strategy: canary', 'strategy: bluegreen');
      },
      STEP_MS,
    );
  });
}
