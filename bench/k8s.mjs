#!/usr/bin/env node
// cairn on Kubernetes vs kubectl, on the test cluster, in the same run (as root, after `npm run
// build`; refuses while a testbed is up): deploy → all pods Ready — `cairn deploy --wait` (push,
// gates, door, apply, both pods Ready, switch) vs `kubectl apply` + `kubectl rollout status` of the
// same Deployment under another name (image already on the node) — and rollback to the warm
// release through cairn's gateway in the cluster — `cairn rollback` (v1 kept warm) from the command
// to the gateway pod's first answer of the previous release — vs `kubectl rollout undo` + `rollout
// status` of a plain Deployment. RUNS rounds (default 3). Prints one JSON document, then a one-line
// summary.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../dist/gateway/listen-address.js';
import {
  helloOnKubernetes,
  K8S_VERSION,
  KUBECONFIG,
  KUBECTL,
  STATE,
  startRegistry,
} from '../scripts/k8s-lib.mjs';

const REPO = resolve(import.meta.dirname, '..');
const TESTBED = join(REPO, 'scripts', 'k8s-testbed');
const CAIRN = join(REPO, 'bin', 'cairn.js');
const RUNS = Number(process.env.RUNS ?? 3);
const NS = 'bench-k8s';
const LOAD_AT_START = loadavg().map((l) => Number(l.toFixed(2)));

if (existsSync(STATE)) {
  console.error(`k8s bench: a testbed is up (${STATE}); run \`scripts/k8s-testbed down\` first`);
  process.exit(1);
}

const kubectl = (args, input) =>
  execFileSync(KUBECTL, ['--kubeconfig', KUBECONFIG, ...args], {
    encoding: 'utf8',
    input,
    timeout: 300_000,
  });
const timed = (fn) => {
  const t0 = performance.now();
  fn();
  return Math.round(performance.now() - t0);
};
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { runs: s, median: s[Math.floor(s.length / 2)] };
};

/** The live Deployment of `release`, renamed and stripped to what `kubectl apply` takes. */
function plainCopy(name, as) {
  const d = JSON.parse(kubectl(['-n', NS, 'get', 'deployment', name, '-o', 'json']));
  const labels = { app: as };
  d.spec.template.spec.containers[0].name = 'hello';
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: as, namespace: NS, labels },
    spec: {
      replicas: d.spec.replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: d.spec.template.spec },
    },
  });
}

const ws = mkdtempSync(join(tmpdir(), 'cairn-bench-k8s-'));
const registry = await startRegistry(ws);
const cairn = (args, input) =>
  execFileSync(process.execPath, [CAIRN, ...args], {
    cwd: ws,
    encoding: 'utf8',
    input,
    timeout: 600_000,
    env: { ...process.env, CAIRN_HOME: '' },
  });
const port = await freePort();
/** The `version` the environment's gateway answers with now (undefined: no answer). */
const answerVersion = (p) =>
  fetch(`http://127.0.0.1:${p}/`)
    .then((r) => r.json())
    .then((j) => j.version)
    .catch(() => undefined);
const result = { kubernetes: K8S_VERSION, runs: RUNS, loadAtStart: LOAD_AT_START };
try {
  execFileSync(TESTBED, ['up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(TESTBED, ['registry', registry.address], { stdio: 'ignore' });
  cpSync(join(REPO, 'examples', 'hello'), ws, { recursive: true });
  writeFileSync(
    join(ws, 'cairn.yaml'),
    helloOnKubernetes({
      port,
      registry: registry.address,
      namespace: NS,
      scaleDownDelay: '30m',
      // Traffic through cairn's gateway in the cluster (blue/green: no load here for an analysis).
      gatewayNamespace: `${NS}-gateway`,
      canary: false,
    }),
  );
  cairn(['init']);
  cairn(['keygen']);
  cairn(['up', '--detach']);
  const deployMs = [];
  const applyMs = [];
  const rollbackMs = [];
  const rollbackWaitMs = [];
  const undoMs = [];
  /** The version the gateway serves: a rollback goes back to the one served before the round's deploy. */
  let serving;
  for (let round = 0; round < RUNS; round++) {
    const previous = serving;
    // A release of its own each round (a config change), deployed and Ready.
    writeFileSync(join(ws, 'config', 'v1.json'), JSON.stringify({ version: `r${round}` }));
    cairn(['build', 'hello']);
    deployMs.push(timed(() => cairn(['deploy', 'hello', '--env', 'k8s', '--image', 'hello', '--wait'])));
    serving = `r${round}`;
    const listed = kubectl(['-n', NS, 'get', 'deployments', '-l', 'cairn.dev/service=hello', '-o', 'json']);
    const newest = JSON.parse(listed).items.sort((x, y) =>
      y.metadata.creationTimestamp.localeCompare(x.metadata.creationTimestamp),
    )[0].metadata.name;
    const plain = `plain-${round}`;
    applyMs.push(
      timed(() => {
        kubectl(['apply', '-f', '-'], plainCopy(newest, plain));
        kubectl(['-n', NS, 'rollout', 'status', `deployment/${plain}`, '--timeout=300s']);
      }),
    );
    if (round === 0) continue;
    // Back to the previous release, still warm (scale-down delay 30 min).
    // From the command to the first answer of the previous release through the gateway pod.
    const commanded = performance.now();
    cairn(['rollback', 'hello', '--env', 'k8s', '--wait']);
    rollbackWaitMs.push(Math.round(performance.now() - commanded));
    while ((await answerVersion(port)) !== previous) {
      if (performance.now() - commanded > 30_000)
        throw new Error('the gateway did not serve the previous release');
      await new Promise((r) => setTimeout(r, 5));
    }
    rollbackMs.push(Math.round(performance.now() - commanded));
    serving = previous;
    // The plain Deployment: its image changed to the release cairn rolled back to (admitted), then undone.
    const back = kubectl(['-n', NS, 'get', 'deployments', '-l', 'cairn.dev/service=hello', '-o', 'name'])
      .trim()
      .split('\n')
      .find((n) => n !== `deployment.apps/${newest}`);
    const prevImage = kubectl([
      '-n',
      NS,
      'get',
      back,
      '-o',
      'jsonpath={.spec.template.spec.containers[0].image}',
    ]);
    kubectl(['-n', NS, 'set', 'image', `deployment/${plain}`, `hello=${prevImage}`]);
    kubectl(['-n', NS, 'rollout', 'status', `deployment/${plain}`, '--timeout=300s']);
    undoMs.push(
      timed(() => {
        kubectl(['-n', NS, 'rollout', 'undo', `deployment/${plain}`]);
        kubectl(['-n', NS, 'rollout', 'status', `deployment/${plain}`, '--timeout=300s']);
      }),
    );
    // The next round deploys on top of the release rolled back to.
  }
  Object.assign(result, {
    deployToReadyMs: { cairn: stats(deployMs), kubectlApplyRolloutStatus: stats(applyMs) },
    rollbackMs: {
      cairnWarm: stats(rollbackMs),
      cairnRollbackWaitReturns: stats(rollbackWaitMs),
      kubectlRolloutUndo: stats(undoMs),
    },
  });
} finally {
  try {
    cairn(['down']);
  } catch {}
  execFileSync(TESTBED, ['down'], { stdio: 'ignore' });
  registry.stop();
  rmSync(ws, { recursive: true, force: true });
}
console.log(JSON.stringify(result, null, 2));
const d = result.deployToReadyMs;
const r = result.rollbackMs;
console.log(
  `k8s: deploy → Ready cairn ${d.cairn.median} ms vs kubectl apply+rollout status ${d.kubectlApplyRolloutStatus.median} ms; rollback cairn (command → the in-cluster gateway answers with the previous release) ${r.cairnWarm.median ?? '-'} ms vs kubectl rollout undo ${r.kubectlRolloutUndo.median ?? '-'} ms (medians of ${RUNS})`,
);
