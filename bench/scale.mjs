#!/usr/bin/env node
// Scale benchmark (run `npm run build` first; runc needs root, else the process driver is used):
// N services × 2 instances on this machine, for N = 1, 8, 32, 64 (SCALE_BENCH_SIZES), each in a
// fresh workspace under `cairn up --detach`. Per N it measures: deploy-all time (every service
// deployed from one image, SCALE_BENCH_PARALLEL deploys at a time, each `--wait`ed), the control
// plane's RSS and idle CPU (share of one core over SCALE_BENCH_IDLE_MS with nothing deployed or
// requested), gateway throughput with N routes (scripts/load.mjs, 16 keep-alive clients for
// SCALE_BENCH_LOAD_MS against the last route), a full drift check (`cairn drift --env dev`) and
// `cairn status`. Goals (issue 27): every figure grows linearly or better with N; at 128
// instances the control plane idles under 5% of a core in under 400 MB RSS. Bounded: each command
// has a timeout, and a size is skipped (and said so) once SCALE_BENCH_BUDGET_MS is spent. Always
// stops `cairn up` and removes its workspaces. Prints one JSON document, then a one-line summary.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../dist/gateway/listen-address.js';
import { Load } from '../scripts/load.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CAIRN = join(REPO, 'bin', 'cairn.js');
const SIZES = (process.env.SCALE_BENCH_SIZES ?? '1,8,32,64').split(',').map(Number);
const PARALLEL = Number(process.env.SCALE_BENCH_PARALLEL ?? 4);
const IDLE_MS = Number(process.env.SCALE_BENCH_IDLE_MS ?? 10_000);
const LOAD_MS = Number(process.env.SCALE_BENCH_LOAD_MS ?? 5_000);
const BUDGET_MS = Number(process.env.SCALE_BENCH_BUDGET_MS ?? 25 * 60_000);
const COMMAND_TIMEOUT_MS = 300_000;
const SETTLE_MS = Number(process.env.SCALE_BENCH_SETTLE_MS ?? 10_000);
const GOALS = { idleCpuPct: 5, rssMb: 400, atInstances: 128, growthExponent: 1.1 };
const run = promisify(execFile);
const round = (n, d = 1) => Number(n.toFixed(d));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Each instance answers every path with the id it drew at start (no config file to read). */
const SERVER_JS = `import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
const id = randomUUID();
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' }).end(req.url === '/healthz' ? 'ok' : id);
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;

const spec = (n, port) => `project: scalebench
services:
${Array.from(
  { length: n },
  (_, i) => `  svc-${i}:
    build: { context: ./app, include: ["**/*.js", "package.json"], entrypoint: ["node", "server.js"] }
    run: { port: 8080, replicas: 2, health: { path: /healthz }, tmpfs: [/tmp], stopGraceMs: ${5000 + i} }
    # Each service a release of its own: identical image and run settings would make one release id.
    # (stopGraceMs differs by 1 ms per service; the instances are the same.)
    deploy: { strategy: rolling }
`,
).join('')}environments:
  dev: { gateway: { listen: "127.0.0.1:${port}" } }
routes:
${Array.from({ length: n }, (_, i) => `  - { host: "*", path: /s${i}, service: svc-${i} }\n`).join('')}`;

const driver = () => {
  if (process.env.SCALE_BENCH_DRIVER) return process.env.SCALE_BENCH_DRIVER;
  const runc = process.getuid?.() === 0 && spawnSync('runc', ['--version'], { stdio: 'ignore' }).status === 0;
  return runc ? 'runc' : 'process';
};

const cairnEnv = { ...process.env, CAIRN_HOME: '' };
function cairn(dir, args) {
  return execFileSync(process.execPath, [CAIRN, ...args], {
    cwd: dir,
    env: cairnEnv,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: COMMAND_TIMEOUT_MS,
    maxBuffer: 1 << 26,
  });
}

/** Wall time of a CLI command, in ms (and its stdout); a non-zero exit is kept, not thrown. */
async function timedCairn(dir, args) {
  const t0 = performance.now();
  try {
    const { stdout } = await run(process.execPath, [CAIRN, ...args], {
      cwd: dir,
      env: cairnEnv,
      timeout: COMMAND_TIMEOUT_MS,
      maxBuffer: 1 << 26,
    });
    return { ms: performance.now() - t0, stdout, code: 0 };
  } catch (error) {
    return {
      ms: performance.now() - t0,
      stdout: error.stdout ?? '',
      code: error.code ?? 1,
      error: `${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`,
    };
  }
}

/** utime + stime of a process in clock ticks, and its resident set in MB. */
function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { ticks, rssMb: rssKb / 1024 };
}
const TICKS_PER_SEC = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** Share of one core the process used over `ms`, with nothing asked of it. */
async function idleCpuPct(pid, ms) {
  const a = procStats(pid);
  const t0 = performance.now();
  await sleep(ms);
  const b = procStats(pid);
  return ((b.ticks - a.ticks) / TICKS_PER_SEC / ((performance.now() - t0) / 1000)) * 100;
}

/** How many of the N routes answer 200 through the gateway (one request each). */
async function routesServing(port, n) {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/s${i}/`, { signal: AbortSignal.timeout(5000) }).catch(
      () => undefined,
    );
    if (res?.status === 200) ok++;
    await res?.arrayBuffer();
  }
  return ok;
}

/** Runs `tasks` (functions returning promises), at most `limit` at a time. */
async function pool(tasks, limit) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

async function measure(n, drv) {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-scale-bench-'));
  let up = false;
  try {
    cpSync(join(REPO, 'examples', 'hello'), dir, { recursive: true });
    writeFileSync(join(dir, 'app', 'server.js'), SERVER_JS);
    const port = await freePort();
    writeFileSync(join(dir, 'cairn.yaml'), spec(n, port));
    cairn(dir, ['init']);
    const built = JSON.parse(cairn(dir, ['build', 'svc-0', '-o', 'json']));
    const digest = JSON.stringify(built).match(/sha256:[0-9a-f]{64}/)?.[0];
    if (!digest) throw new Error(`no image digest in: ${JSON.stringify(built).slice(0, 200)}`);
    // SCALE_BENCH_PROFILE_DIR: the control plane runs in the foreground under --cpu-prof and
    // writes its profile there when `cairn down` stops it; the result names the idle window in
    // the profile's clock (`profileIdleWindowUs`), for `node scripts/profile-top.mjs PROFILE FROM TO`.
    const prof = process.env.SCALE_BENCH_PROFILE_DIR;
    if (prof) {
      spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${prof}`, CAIRN, 'up', '--driver', drv], {
        cwd: dir,
        env: cairnEnv,
        stdio: 'ignore',
      });
      for (let i = 0; i < 300 && !existsSync(join(dir, '.cairn', 'api.json')); i++) await sleep(100);
    } else cairn(dir, ['up', '--detach', '--driver', drv]);
    up = true;
    const { pid } = JSON.parse(readFileSync(join(dir, '.cairn', 'api.json'), 'utf8'));
    const atStart = procStats(pid).rssMb;

    const t0 = performance.now();
    const deploys = await pool(
      Array.from(
        { length: n },
        (_, i) => () =>
          timedCairn(dir, [
            'deploy',
            `svc-${i}`,
            '--env',
            'dev',
            '--image',
            digest,
            '--wait',
            '--timeout',
            '280s',
          ]),
      ),
      PARALLEL,
    );
    const deployAllMs = performance.now() - t0;
    const failed = deploys.filter((d) => d.code !== 0).length;
    if (failed > 0)
      throw new Error(`${failed} of ${n} deploys failed: ${deploys.find((d) => d.code)?.error}`);

    await sleep(SETTLE_MS);
    // In the profile's clock (CLOCK_MONOTONIC, µs), so the idle window can be cut out of it.
    const idleFromUs = Number(process.hrtime.bigint() / 1000n);
    const idle = await idleCpuPct(pid, IDLE_MS);
    const idleWindowUs = [idleFromUs, Number(process.hrtime.bigint() / 1000n)];
    const rssMb = procStats(pid).rssMb;

    const statusRuns = [];
    for (let i = 0; i < 3; i++) statusRuns.push(await timedCairn(dir, ['status', '-o', 'json']));
    const drift = await timedCairn(dir, ['drift', '--env', 'dev', '-o', 'json']);
    const driftReport = JSON.parse(drift.stdout || '{}');

    const serving = await routesServing(port, n);
    const load = new Load(`http://127.0.0.1:${port}/s${n - 1}/`, { concurrency: 16, timeoutMs: 5000 }).start(
      LOAD_MS,
    );
    const l0 = Date.now();
    await sleep(LOAD_MS);
    await load.stop();
    const summary = load.summary(l0, Date.now());
    const statuses = {};
    for (const x of load.samples) statuses[x.status] = (statuses[x.status] ?? 0) + 1;
    const rssAfterLoadMb = procStats(pid).rssMb;
    // What the control plane did, by audit action (instances that failed and were replaced show here).
    const audit = JSON.parse((await timedCairn(dir, ['audit', 'log', '-o', 'json'])).stdout || '{}');
    const actions = {};
    for (const e of audit.entries ?? []) actions[e.action] = (actions[e.action] ?? 0) + 1;
    return {
      services: n,
      instances: driftReport.instances?.length ?? 2 * n,
      deployAllMs: Math.round(deployAllMs),
      deployPerServiceMs: Math.round(deployAllMs / n),
      controlPlane: {
        rssAtStartMb: round(atStart),
        rssMb: round(rssMb),
        rssAfterLoadMb: round(rssAfterLoadMb),
        idleCpuPctOfCore: round(idle, 2),
      },
      gateway: {
        routes: n,
        routesServing: serving,
        requests: summary.requests,
        failures: summary.failures,
        rps: Math.round(summary.requests / (LOAD_MS / 1000)),
        p99Ms: round(summary.p99Ms, 2),
        statuses,
      },
      ...(prof && { profileIdleWindowUs: idleWindowUs }),
      driftFullCheckMs: Math.round(drift.ms),
      driftInSync: driftReport.inSync === true,
      statusMs: Math.round(median(statusRuns.map((s) => s.ms))),
      auditActions: actions,
      load: loadavg().map((x) => round(x, 2)),
    };
  } finally {
    if (up) {
      try {
        cairn(dir, ['down']);
      } catch (error) {
        console.error(`cairn down failed in ${dir}: ${error.message}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Exponent k in figure ∝ N^k from `a` to `b` (1 = linear), or null when a figure is 0. */
function exponent(a, b, pick) {
  const fa = pick(a);
  const fb = pick(b);
  if (!(fa > 0 && fb > 0) || a.services === b.services) return null;
  return round(Math.log(fb / fa) / Math.log(b.services / a.services), 2);
}

/**
 * Growth from the smallest to the largest N measured, and the steepest step between two sizes
 * measured one after the other (a fixed cost at N = 1 can hide a step that grows faster).
 */
function growth(results, pick) {
  if (results.length < 2) return { overall: null, steepestStep: null };
  const steps = results.slice(1).map((r, i) => exponent(results[i], r, pick));
  const known = steps.filter((k) => k !== null);
  return {
    overall: exponent(results[0], results.at(-1), pick),
    steepestStep: known.length ? Math.max(...known) : null,
  };
}

const drv = driver();
const started = performance.now();
const results = [];
const skipped = [];
for (const n of SIZES) {
  if (performance.now() - started > BUDGET_MS) {
    skipped.push({ services: n, why: `budget of ${BUDGET_MS / 60_000} min spent` });
    continue;
  }
  results.push(await measure(n, drv));
  console.error(`scale: N=${n} done in ${Math.round((performance.now() - started) / 1000)} s`);
}

const exponents = {
  deployAll: growth(results, (r) => r.deployAllMs),
  controlPlaneRssAboveStart: growth(results, (r) => r.controlPlane.rssMb - r.controlPlane.rssAtStartMb),
  idleCpu: growth(results, (r) => r.controlPlane.idleCpuPctOfCore),
  driftFullCheck: growth(results, (r) => r.driftFullCheckMs),
  status: growth(results, (r) => r.statusMs),
};
const linear = Object.values(exponents).every((g) => g.overall === null || g.overall <= GOALS.growthExponent);
const steepest = Object.entries(exponents)
  .filter(([, g]) => g.steepestStep !== null)
  .sort((x, y) => y[1].steepestStep - x[1].steepestStep)[0];
const largest = results.at(-1);
const atGoalSize = results.find((r) => r.instances >= GOALS.atInstances);
const result = {
  benchmark: 'scale',
  driver: drv,
  node: process.version,
  cpus: cpus().length,
  parallelDeploys: PARALLEL,
  idleWindowMs: IDLE_MS,
  loadWindowMs: LOAD_MS,
  goals: GOALS,
  results,
  skipped,
  growthExponents: exponents,
  met: {
    linearOrBetter: linear,
    idleCpuAt128: atGoalSize ? atGoalSize.controlPlane.idleCpuPctOfCore < GOALS.idleCpuPct : null,
    rssAt128: atGoalSize ? atGoalSize.controlPlane.rssMb < GOALS.rssMb : null,
  },
  totalSeconds: Math.round((performance.now() - started) / 1000),
};
console.log(JSON.stringify(result, null, 2));
const met = (v) => (v === null ? 'not measured' : v ? 'met' : 'not met');
console.log(
  `scale (${drv}): ${results.map((r) => `N=${r.services} deploy-all ${(r.deployAllMs / 1000).toFixed(1)} s, CP ${r.controlPlane.rssMb} MB ${r.controlPlane.idleCpuPctOfCore}% idle, gw ${r.gateway.rps} rps, drift ${r.driftFullCheckMs} ms, status ${r.statusMs} ms`).join('; ')}` +
    `; growth exponents N=${SIZES[0]}→${largest?.services ?? '?'} ${Object.entries(exponents)
      .map(([k, g]) => `${k} ${g.overall}`)
      .join(', ')} (goal ≤ ${GOALS.growthExponent}: ${met(linear)})` +
    (steepest ? `, steepest step ${steepest[0]} ${steepest[1].steepestStep}` : '') +
    `; at ${GOALS.atInstances} instances idle CPU < ${GOALS.idleCpuPct}% ${met(result.met.idleCpuAt128)}, RSS < ${GOALS.rssMb} MB ${met(result.met.rssAt128)}` +
    (skipped.length ? `; skipped ${skipped.map((s) => `N=${s.services} (${s.why})`).join(', ')}` : ''),
);
