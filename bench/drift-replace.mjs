// Drift replacement, end to end (run `npm run build` first; needs root and runc): a two-instance
// service under `cairn up --driver runc` in enforce mode with the fast path, a client sending one
// request after another through the gateway, and one byte appended to a file of the instances'
// shared bundle. Measures tamper → the first request answered by a replacement (each instance
// answers with an id drawn when its process starts), and tamper → the last answer from a drifted
// instance, with every failed request counted. Trials are spaced by the minimum interval between
// two drift replacements of one service (30 s). Used by bench/drift.mjs; runs alone with
// `node bench/drift-replace.mjs`.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../dist/gateway/listen-address.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CAIRN = join(REPO, 'bin', 'cairn.js');
export const REPLACE_GOAL_MS = 1000;
const TRIALS = Number(process.env.BENCH_REPLACE_TRIALS ?? 2);
/** remediation's minimum interval between two drift replacements of one service, plus a margin. */
const TRIAL_SPACING_MS = 31_000;
const REPLACE_TIMEOUT_MS = 60_000;
const SPARE_TIMEOUT_MS = 120_000;

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

const spec = (port) => `project: driftbench
services:
  hello:
    build:
      context: ./app
      include: ["**/*.js", "package.json"]
      entrypoint: ["node", "server.js"]
      files: { /etc/hello/config.json: ./config/v1.json }
    run:
      port: 8080
      replicas: 2
      health: { path: /healthz, intervalMs: 1000, timeoutMs: 500 }
      tmpfs: [/tmp]
    deploy: { strategy: rolling }
environments:
  dev: { drift: { mode: enforce, intervalMs: 1h, fastPath: true }, gateway: { listen: "127.0.0.1:${port}" } }
routes:
  - { host: "*", path: /, service: hello }
`;

export function replacementUsable() {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('runc', ['--version'], { stdio: 'ignore' }).status === 0;
}

function cairn(dir, args) {
  return execFileSync(process.execPath, [CAIRN, ...args], {
    cwd: dir,
    env: { ...process.env, CAIRN_HOME: '' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
  });
}

async function waitFor(probe, timeoutMs, stepMs = 100) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const value = await probe();
    if (value) return value;
    await sleep(stepMs);
  }
  return undefined;
}

/** The one image's shared bundle dir, and whether its spare is unpacked. */
function bundles(dir) {
  const root = join(dir, '.cairn', 'bundles');
  const [hex] = readdirSync(root).filter((n) => /^[0-9a-f]{64}$/.test(n));
  return { rootfs: join(root, hex, 'rootfs'), spare: join(root, '.spare', hex, 'bundle.json') };
}

/** One request after another through the gateway; every answer is `{ atMs, id }` or a failure. */
class Client {
  answers = [];
  failures = 0;
  #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  #running = true;
  #loop;

  constructor(port) {
    this.#loop = this.#run(port);
  }

  async #run(port) {
    while (this.#running) {
      const answer = await new Promise((resolve) => {
        const req = request(
          { host: '127.0.0.1', port, path: '/', agent: this.#agent, timeout: 2000 },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (d) => (body += d));
            res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
          },
        );
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve(undefined));
        req.end();
      });
      if (answer) this.answers.push({ atMs: performance.now(), id: answer });
      else this.failures++;
      await sleep(2);
    }
  }

  async close() {
    this.#running = false;
    await this.#loop;
    this.#agent.destroy();
  }
}

function appendByte(file) {
  const { mode } = statSync(file);
  chmodSync(file, 0o644);
  appendFileSync(file, 'x');
  chmodSync(file, mode);
}

let lastTamperMs = Number.NEGATIVE_INFINITY;

async function trial(dir, client) {
  const { rootfs, spare } = bundles(dir);
  if (!(await waitFor(() => existsSync(spare), SPARE_TIMEOUT_MS, 200))) throw new Error('no spare bundle');
  await sleep(1500); // the spare's own watch is set up after it is unpacked
  const seenFrom = client.answers.length;
  await sleep(500);
  const before = new Set(client.answers.slice(seenFrom).map((a) => a.id));
  await sleep(Math.max(0, lastTamperMs + TRIAL_SPACING_MS - performance.now()));
  const failuresBefore = client.failures;
  const t0 = performance.now();
  lastTamperMs = t0;
  const wallT0 = Date.now();
  appendByte(join(rootfs, 'etc', 'hello', 'config.json'));
  const first = await waitFor(
    () => client.answers.find((a) => a.atMs > t0 && !before.has(a.id)),
    REPLACE_TIMEOUT_MS,
    10,
  );
  if (!first) throw new Error(`no answer from a replacement within ${REPLACE_TIMEOUT_MS} ms`);
  // Then until the drifted instances stop answering (they are drained once replacements are healthy).
  await waitFor(() => {
    const recent = client.answers.filter((a) => a.atMs > performance.now() - 1000);
    return recent.length > 20 && recent.every((a) => !before.has(a.id));
  }, REPLACE_TIMEOUT_MS);
  const lastOld = client.answers.filter((a) => before.has(a.id)).at(-1);
  return {
    instancesBefore: before.size,
    firstAnswerByReplacementMs: Math.round(first.atMs - t0),
    lastAnswerByDriftedMs: lastOld ? Math.round(Math.max(0, lastOld.atMs - t0)) : 0,
    failedRequests: client.failures - failuresBefore,
    timeline: timeline(dir, wallT0),
    ...(process.env.BENCH_PROF ? { prof: profile(dir, wallT0) } : {}),
  };
}

function profile(dir, wallT0) {
  const text = readFileSync(join(dir, '.cairn', 'logs', 'control-plane.log'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.includes('"prof"'))
    .map((l) => JSON.parse(l))
    .filter((p) => p.at >= wallT0)
    .map((p) => `${p.at - wallT0} ${p.prof} ${p.id}`);
}

/** What the audit log says happened after the tamper, in ms from it (where the time went). */
function timeline(dir, wallT0) {
  const { entries } = JSON.parse(cairn(dir, ['audit', 'log', '-o', 'json']));
  return entries
    .filter((e) => Date.parse(e.time) >= wallT0 - 5)
    .map(
      (e) =>
        `${Date.parse(e.time) - wallT0} ${e.action}${e.subject.instance ? ` ${e.subject.instance.slice(-6)}` : ''}${e.reason ? `: ${e.reason.slice(0, 60)}` : ''}`,
    );
}

/** Runs the trials in a throw-away workspace; always stops `cairn up` and removes the workspace. */
export async function measureReplacement() {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-drift-replace-bench-'));
  let client;
  try {
    cpSync(join(REPO, 'examples', 'hello'), dir, { recursive: true });
    writeFileSync(join(dir, 'app', 'server.js'), SERVER_JS);
    const port = await freePort();
    writeFileSync(join(dir, 'cairn.yaml'), spec(port));
    cairn(dir, ['init']);
    cairn(dir, ['build', 'hello']);
    cairn(dir, ['up', '--detach', '--driver', 'runc']);
    cairn(dir, ['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '120s']);
    client = new Client(port);
    const trials = [];
    for (let t = 0; t < TRIALS; t++) {
      trials.push({ load: loadavg()[0], ...(await trial(dir, client)) });
    }
    const worst = Math.max(...trials.map((t) => t.firstAnswerByReplacementMs));
    return { trials, worstFirstAnswerMs: worst, goalMs: REPLACE_GOAL_MS, goalMet: worst < REPLACE_GOAL_MS };
  } finally {
    await client?.close();
    try {
      cairn(dir, ['down']);
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await measureReplacement();
  console.log(JSON.stringify(result, null, 2));
  const ms = result.trials.map((t) => t.firstAnswerByReplacementMs).join(', ');
  console.log(
    `drift replacement: tamper → first request answered by a replacement ${ms} ms ` +
      `(goal < ${REPLACE_GOAL_MS} ms: ${result.goalMet ? 'met' : 'not met'}); drifted instances last answered at ` +
      `${result.trials.map((t) => t.lastAnswerByDriftedMs).join(', ')} ms; failed requests ` +
      `${result.trials.map((t) => t.failedRequests).join(', ')}`,
  );
}
