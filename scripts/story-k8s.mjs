#!/usr/bin/env node
// The cairn story on the Kubernetes test cluster (`npm run story:k8s`, as root, after `npm run
// build` and a built testbed): brings the testbed up, deploys hello v1 into a Kubernetes
// environment under load through cairn's gateway in the cluster, a canary with analysis to v2, a
// bad v3 whose canary fails the analysis and is rolled back, a rollback (a weight flip in the
// cluster), the apiserver refusing an unknown digest, `kubectl set image` reverted by cairn, the
// audit verified, and the summary per phase. It tears everything down, even on failure.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../dist/gateway/listen-address.js';
import {
  CACHE,
  helloOnKubernetes,
  KUBECONFIG,
  KUBECTL,
  missingTestbedFiles,
  STATE,
  startRegistry,
} from './k8s-lib.mjs';
import { Load } from './load.mjs';
import { createStory, ROOT, say, sleep } from './story-lib.mjs';

const TESTBED = join(ROOT, 'scripts', 'k8s-testbed');
const NS = 'story-k8s';
const GATEWAY_NS = 'story-k8s-gateway';
const KEEP = process.env.CAIRN_STORY_KEEP === '1';
const run = promisify(execFile);

const missing = missingTestbedFiles();
if (missing.length > 0) {
  const names = missing.join(', ');
  say(`story:k8s: cannot start: the Kubernetes test cluster is not built in ${CACHE} (missing ${names})`);
  say(
    '  hint: run `scripts/k8s-testbed build` first (about 35 min cold, as root); this story never builds it',
  );
  process.exit(1);
}
if (process.getuid?.() !== 0) {
  say(
    'story:k8s: cannot start: the test cluster needs root (containerd, kubelet, cgroups)\n  hint: run it as root',
  );
  process.exit(1);
}
if (existsSync(STATE)) {
  say(`story:k8s: cannot start: a testbed is already up (${STATE}); there is one per machine`);
  say('  hint: wait for whoever uses it, or run `scripts/k8s-testbed down` if it is yours');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'cairn-story-k8s-'));
const story = createStory(work);
const { cairn, heading, phase, useVariant } = story;
const kubectl = async (args, ns = NS) =>
  (
    await run(KUBECTL, ['--kubeconfig', KUBECONFIG, '-n', ns, ...args], {
      timeout: 180_000,
      maxBuffer: 16 << 20,
    })
  ).stdout;
const testbed = (args) => run(TESTBED, args, { timeout: 600_000, maxBuffer: 16 << 20 });
let registry;
let testbedStarted = false;
let upStarted = false;

/** The name of the Deployment whose release the gateway serves now (from `cairn history`). */
async function servingDeployment() {
  const { stdout } = await cairn(['history', 'hello', '--env', 'k8s', '--output', 'json'], { quiet: true });
  const { deployments } = JSON.parse(stdout);
  return `hello-${deployments.filter((d) => d.phase === 'succeeded').at(-1).to}`;
}

async function showPods(ns = NS) {
  const pods = JSON.parse(await kubectl(['get', 'pods', '-o', 'json'], ns)).items;
  for (const pod of pods) {
    const [c] = pod.spec.containers;
    const sc = pod.spec.securityContext;
    say(`  pod ${pod.metadata.name}: Ready=${pod.status.conditions.find((x) => x.type === 'Ready')?.status}`);
    say(`    image ${c.image}`);
    say(
      `    runAsNonRoot=${sc.runAsNonRoot} runAsUser=${sc.runAsUser} seccomp=${sc.seccompProfile?.type} readOnlyRootFilesystem=${c.securityContext.readOnlyRootFilesystem} allowPrivilegeEscalation=${c.securityContext.allowPrivilegeEscalation} drop=${c.securityContext.capabilities?.drop} automountServiceAccountToken=${pod.spec.automountServiceAccountToken}${pod.spec.hostNetwork ? ` hostNetwork=true serviceAccount=${pod.spec.serviceAccountName}` : ''}`,
    );
  }
  if (ns !== NS) return;
  const secret = JSON.parse(await kubectl(['get', 'secret', 'cairn-api-token-v1', '-o', 'json']));
  const pki = join(STATE, 'pki');
  const { stdout: raw } = await run(join(CACHE, 'etcd-v3.6.16', 'etcdctl'), [
    ...['--endpoints', `https://127.0.0.1:${process.env.CAIRN_K8S_ETCD_PORT ?? 23790}`],
    ...['--cacert', join(pki, 'ca.crt'), '--cert', join(pki, 'apiserver-etcd-client.crt')],
    ...['--key', join(pki, 'apiserver-etcd-client.key'), 'get', `/registry/secrets/${NS}/cairn-api-token-v1`],
    '--print-value-only',
  ]);
  say(
    `  Secret cairn-api-token-v1: immutable=${secret.immutable}; in etcd it starts ${JSON.stringify(raw.slice(0, 26))} (encrypted by the apiserver)`,
  );
}

async function main() {
  say(`cairn story on Kubernetes — the test cluster (v1.36.3) on this machine\nworkspace: ${work}`);
  say(
    `note: cairn's gateway runs in the cluster (namespace ${GATEWAY_NS}, a host-network DaemonSet), so a canary runs there`,
  );

  heading('Bring the test cluster up (scripts/k8s-testbed up) and a registry on 127.0.0.1');
  const t0 = Date.now();
  testbedStarted = true;
  await testbed(['up']);
  registry = await startRegistry(work);
  await testbed(['registry', registry.address]);
  say(`  node Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; registry ${registry.address}`);

  cpSync(join(ROOT, 'examples', 'hello'), work, { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(work, 'cairn.yaml'),
    helloOnKubernetes({
      port,
      registry: registry.address,
      namespace: NS,
      scaleDownDelay: '10m',
      secrets: true,
      policies: ['policies/release.yaml'],
      gatewayNamespace: GATEWAY_NS,
    }),
  );

  heading(
    'Workspace, key, secret, build hello v1; start the control plane (no local gateway: it is in the cluster)',
  );
  await cairn(['validate']);
  await cairn(['init']);
  await cairn(['keygen'], { allowFail: true });
  await cairn(['secret', 'set', 'API_TOKEN', '--generate']);
  await cairn(['build', 'hello']);
  await cairn(['up', '--detach']);
  upStarted = true;

  heading('Deploy v1 into the cluster: pushed by digest, gates, a Deployment of its own, pods Ready');
  await cairn(['deploy', 'hello', '--env', 'k8s', '--image', 'hello', '--wait', '--timeout', '300s']);
  say('  the live pods, read back from the apiserver:');
  await showPods();
  say(`  the gateway pods (namespace ${GATEWAY_NS}), read back from the apiserver:`);
  await showPods(GATEWAY_NS);

  story.load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 8 }).start(15 * 60_000);
  heading("Steady load on v1 through cairn's gateway in the cluster");
  await phase('steady v1', () => sleep(3000));

  heading("Canary v1 → v2 under load: 20 %, analysis of the gateway pods' metrics, 100 %; v1 kept warm");
  useVariant('v2');
  await cairn(['build', 'hello'], { quiet: true });
  await phase('canary v1 → v2', () =>
    cairn(['deploy', 'hello', '--env', 'k8s', '--image', 'hello', '--wait', '--timeout', '300s']),
  );

  heading('The bad v3 (20 % errors, 400 ms answers): its canary fails the analysis and is rolled back');
  useVariant('v3');
  await cairn(['build', 'hello'], { quiet: true });
  await phase('canary v3 (bad)', async () => {
    const r = await cairn(
      ['deploy', 'hello', '--env', 'k8s', '--image', 'hello', '--wait', '--timeout', '240s'],
      {
        allowFail: true,
      },
    );
    if (r.code === 0) throw new Error('the bad v3 was promoted');
  });
  await phase('steady v2', () => sleep(2000));

  heading('Rollback drill: back to v1, its pods still warm — one write of the gateway ConfigMap');
  await phase('rollback v2 → v1', async () => {
    const { stdout } = await cairn(['rollback', 'hello', '--env', 'k8s', '--wait', '--output', 'json']);
    const { deployment } = JSON.parse(stdout);
    await sleep(1000);
    const arrived = Date.parse(deployment.createdAt);
    const first = story.load.samples.find(
      (x) => x.at - x.ms >= arrived && x.version === 'v1' && x.status === 200,
    );
    return { switchMs: first ? Math.round(first.at - arrived) : 'n/a', flipMs: deployment.durationMs ?? '' };
  });

  heading("The cluster's door: `kubectl run` of a digest cairn never admitted");
  await phase('kubectl run unknown digest', async () => {
    const unknown = `${registry.address}/cairn/hello@sha256:${'0'.repeat(64)}`;
    const hardened = JSON.stringify({
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'x',
            image: unknown,
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    });
    say(
      `  $ kubectl -n ${NS} run intruder --image=${unknown} (hardened, so only cairn's gate can refuse it)`,
    );
    const refused = await kubectl(['run', 'intruder', `--image=${unknown}`, `--overrides=${hardened}`]).then(
      () => undefined,
      (e) => String(e.stderr).trim(),
    );
    if (!refused) throw new Error('the apiserver admitted a pod with an unknown digest');
    say(`    ${refused}`);
  });

  heading('Drift: `kubectl set image` on the serving Deployment; cairn puts it back');
  await phase('kubectl set image reverted', async () => {
    const name = await servingDeployment();
    const image = () =>
      kubectl(['get', 'deployment', name, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']);
    const original = await image();
    say(`  $ kubectl -n ${NS} set image deployment/${name} hello=${registry.address}/cairn/hello:latest`);
    await kubectl(['set', 'image', `deployment/${name}`, `hello=${registry.address}/cairn/hello:latest`]);
    const t = Date.now();
    while ((await image()) !== original) {
      if (Date.now() - t > 60_000) throw new Error(`cairn did not restore deployment/${name} in 60 s`);
      await sleep(200);
    }
    say(
      `  image back to ${original.split('@')[1].slice(0, 19)}… ${Date.now() - t} ms after kubectl returned`,
    );
    const { stdout } = await cairn(['audit', 'log', '-o', 'json'], { quiet: true });
    const repaired = JSON.parse(stdout).entries.filter(
      (e) => e.action === 'drift.repaired' && e.subject.instance === `Deployment/${name}`,
    );
    const repairMs = repaired.at(-1)?.detail?.repairMs;
    say(`  the audit log: drift.repaired Deployment/${name}, repairMs ${repairMs}`);
    return { repairMs };
  });
  await phase('steady after drift', () => sleep(2000));

  heading('Where things stand, and the audit trail');
  await cairn(['status', '--env', 'k8s']);
  await cairn(['history', 'hello', '--env', 'k8s']);
  await cairn(['audit', 'verify']);
}

let failed = false;
const started = Date.now();
try {
  await main();
} catch (error) {
  failed = true;
  say(`\nstory stopped: ${error.message}${error.stderr ? `\n${error.stderr}` : ''}`);
} finally {
  await story.load?.stop();
  if (story.phases.length) story.summary();
  if (upStarted) await cairn(['down'], { allowFail: true });
  if (testbedStarted) {
    say('\n  $ scripts/k8s-testbed down');
    await testbed(['down']).catch((e) => say(`  testbed down failed: ${e.stderr ?? e.message}`));
  }
  registry?.stop();
  if (KEEP) say(`(workspace kept: ${work})`);
  else rmSync(work, { recursive: true, force: true });
  say(`\nstory:k8s took ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
process.exitCode = failed ? 1 : 0;
