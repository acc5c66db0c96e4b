#!/usr/bin/env node
// Kubernetes testbed benchmark (as root): the cold build time of the test cluster (measured now
// when the binaries are missing, else read from the build's own record), the warm start time of
// `scripts/k8s-testbed up` to a Ready node, the resident memory of each control-plane process
// while the node is Ready, the time of `down`, and the disk the built binaries take.
// Prints one JSON document, then a one-line summary. Refuses to run while a testbed is up.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir, loadavg } from 'node:os';
import { join, resolve } from 'node:path';

const TESTBED = resolve(import.meta.dirname, '..', 'scripts', 'k8s-testbed');
const CACHE = process.env.CAIRN_K8S_CACHE ?? join(homedir(), '.cache', 'cairn', 'k8s');
const STATE = process.env.CAIRN_K8S_STATE ?? join(CACHE, 'run');
const K8S_DIR = join(CACHE, 'v1.36.3');
const ETCD_DIR = join(CACHE, 'etcd-v3.6.16');
const TIMEOUT_MS = 90 * 60_000;
const LOAD_AT_START = loadavg().map((l) => Number(l.toFixed(2)));

if (existsSync(STATE)) {
  console.error(`k8s-testbed bench: a testbed is up (${STATE}); run \`scripts/k8s-testbed down\` first`);
  process.exit(1);
}

const timed = (args) => {
  const t0 = performance.now();
  execFileSync(TESTBED, args, { stdio: ['ignore', 'ignore', 'inherit'], timeout: TIMEOUT_MS });
  return Math.round(performance.now() - t0);
};
const recorded = (dir) => Number(readFileSync(join(dir, 'cold-build-seconds'), 'utf8'));
const dirBytes = (dir) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((n, e) => n + statSync(join(dir, e.name)).size, 0);
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

const builtBefore = existsSync(join(K8S_DIR, 'kubelet')) && existsSync(join(ETCD_DIR, 'etcd'));
const buildMs = timed(['build']);
const upMs = timed(['up']);
const rss = {};
for (const name of readdirSync(join(STATE, 'pids'))) {
  const pid = readFileSync(join(STATE, 'pids', name), 'utf8').trim();
  rss[name] = Math.round(rssKiB(pid) / 1024);
}
const downMs = timed(['down']);
const controlPlane = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const result = {
  kubernetes: 'v1.36.3',
  etcd: 'v3.6.16',
  coldBuildSeconds: { kubernetes: recorded(K8S_DIR), etcd: recorded(ETCD_DIR), measuredNow: !builtBefore },
  cachedBuildCheckMs: builtBefore ? buildMs : undefined,
  warmUpMs: upMs,
  downMs,
  rssMiB: rss,
  controlPlaneRssMiB: controlPlane.reduce((n, c) => n + (rss[c] ?? 0), 0),
  binariesMiB: Math.round((dirBytes(K8S_DIR) + dirBytes(ETCD_DIR)) / 2 ** 20),
  loadAtStart: LOAD_AT_START,
};
console.log(JSON.stringify(result, null, 2));
console.log(
  `k8s testbed: cold build ${result.coldBuildSeconds.kubernetes + result.coldBuildSeconds.etcd} s ` +
    `(kubernetes ${result.coldBuildSeconds.kubernetes} s, etcd ${result.coldBuildSeconds.etcd} s), ` +
    `up to Ready ${(upMs / 1000).toFixed(1)} s, down ${(downMs / 1000).toFixed(1)} s, ` +
    `control plane RSS ${result.controlPlaneRssMiB} MiB (+ kubelet ${rss.kubelet} MiB, containerd ${rss.containerd} MiB)`,
);
