#!/usr/bin/env node
// Benchmark: wall time of `cairn --help`, `cairn status` and `cairn ps` against `node -e 0`, the
// floor any Node.js CLI pays (goal: each at most node -e 0 + 80 ms). status and ps ask a running
// control plane (`cairn up --detach --driver process` on a copy of examples/hello, nothing deployed).
// Runs alternate (node, help, status, ps, node, …) so load on the machine hits all alike; the
// figure per command is the median of RUNS. Prints one JSON object, then a one-line summary.
// Uses the compiled code in dist/ (npm run build).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { freePort } from '../dist/gateway/listen-address.js';

const RUNS = Number(process.env.RUNS ?? 15);
const BUDGET_MS = 80;
const CAIRN = fileURLToPath(new URL('../bin/cairn.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../examples/hello', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-cli-'));
const env = { ...process.env, CAIRN_HOME: undefined };
const cairn = (...args) => spawnSync(process.execPath, [CAIRN, ...args], { cwd: dir, env, encoding: 'utf8' });

function time(argv) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { cwd: dir, env, stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}`);
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  cpSync(EXAMPLE, dir, { recursive: true });
  // The example's gateways listen on fixed ports; any free ones do here.
  const spec = join(dir, 'cairn.yaml');
  let text = readFileSync(spec, 'utf8');
  for (const port of ['8080', '8443'])
    text = text.replace(`127.0.0.1:${port}`, `127.0.0.1:${await freePort()}`);
  writeFileSync(spec, text);
  for (const args of [['init'], ['up', '--detach', '--driver', 'process', '--ui', 'off']]) {
    const r = cairn(...args);
    if (r.status !== 0) throw new Error(`cairn ${args.join(' ')}: ${r.stderr}`);
  }
  const commands = {
    'node -e 0': ['-e', '0'],
    'cairn --help': [CAIRN, '--help'],
    'cairn status': [CAIRN, 'status'],
    'cairn ps': [CAIRN, 'ps'],
  };
  const samples = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (const argv of Object.values(commands)) time(argv); // warm the file cache
  for (let run = 0; run < RUNS; run++) {
    for (const [name, argv] of Object.entries(commands)) samples[name].push(time(argv));
  }
  const floor = median(samples['node -e 0']);
  const results = Object.fromEntries(
    Object.entries(samples).map(([name, xs]) => [
      name,
      { medianMs: Math.round(median(xs)), overNodeMs: Math.round(median(xs) - floor) },
    ]),
  );
  const worst = Math.max(...Object.values(results).map((r) => r.overNodeMs));
  const met = worst <= BUDGET_MS;
  console.log(JSON.stringify({ runs: RUNS, budgetOverNodeMs: BUDGET_MS, results, met }, null, 2));
  const parts = Object.entries(results)
    .slice(1)
    .map(([name, r]) => `${name} ${r.medianMs} ms (+${r.overNodeMs})`);
  console.log(
    `cli: node -e 0 ${Math.round(floor)} ms; ${parts.join(', ')} — goal ≤ node + ${BUDGET_MS} ms: ${met ? 'met' : 'NOT met'}`,
  );
} finally {
  cairn('down');
  rmSync(dir, { recursive: true, force: true });
}
