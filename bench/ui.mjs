#!/usr/bin/env node
// Dashboard benchmark (run `npm run build` first). During a canary of examples/hello under a
// paced load (UI_BENCH_RPS requests/s through the gateway, the same in both phases), the control
// plane's CPU (utime+stime from /proc) is measured for UI_BENCH_SECONDS with no dashboard
// connected, then with UI_BENCH_CLIENTS event streams open (logged in, reading every snapshot),
// then again with none; the difference to the mean of the two is the CPU the fan-out adds, in % of
// one core (goal < 5%; below ~1% it is within the noise of the load). Also the bytes of the first
// page load (HTML + JS + CSS, gzip, as a browser fetches them; goal < 250 kB) and of the
// stream's first message. Prints one JSON document, then a one-line summary. Bounded in time.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CAIRN = join(ROOT, 'bin', 'cairn.js');
const CLIENTS = Number(process.env.UI_BENCH_CLIENTS ?? 100);
const SECONDS = Number(process.env.UI_BENCH_SECONDS ?? 10);
const RPS = Number(process.env.UI_BENCH_RPS ?? 200);
const GOAL_CPU_PCT = 5;
const GOAL_FIRST_LOAD_KB = 250;
const TICKS = 100; // USER_HZ on Linux
const work = mkdtempSync(join(tmpdir(), 'cairn-bench-ui-'));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function cairn(args) {
  const env = { ...process.env };
  delete env.CAIRN_HOME;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN, ...args], { cwd: work, env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`cairn ${args.join(' ')}: ${err || out}`)),
    );
  });
}

const cpuTicks = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

/** CPU of `pid` over `seconds`, in % of one core. */
async function cpuOver(pid, seconds) {
  const t0 = performance.now();
  const c0 = cpuTicks(pid);
  await sleep(seconds * 1000);
  return Number(((((cpuTicks(pid) - c0) / TICKS) * 1000 * 100) / (performance.now() - t0)).toFixed(2));
}

/** A steady paced load: RPS requests a second, spread evenly; returns a stop function. */
function pacedLoad(url, rps) {
  let sent = 0;
  let failed = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < rps / 20; i++) {
      sent++;
      fetch(url).then(
        (r) => r.arrayBuffer().then(() => r.ok || failed++),
        () => failed++,
      );
    }
  }, 50);
  return () => {
    clearInterval(timer);
    return { sent, failed };
  };
}

/** One logged-in event stream: counts bytes and messages. */
function stream(ui, cookie) {
  const stats = { bytes: 0, messages: 0, firstBytes: 0 };
  const req = request(`${ui}/v1/events`, { headers: { cookie } }, (res) => {
    res.on('data', (chunk) => {
      stats.bytes += chunk.length;
      const n = chunk.toString().split('\n\n').length - 1;
      if (stats.messages === 0 && n > 0) stats.firstBytes = stats.bytes;
      stats.messages += n;
    });
  });
  req.on('error', () => {});
  req.end();
  return { stats, close: () => req.destroy() };
}

async function firstLoad(ui) {
  const files = ['/', '/assets/app.js', '/assets/app.css'];
  const sizes = {};
  for (const f of files) {
    const res = await new Promise((resolve, reject) =>
      request(`${ui}${f}`, { headers: { 'accept-encoding': 'gzip' } }, resolve)
        .on('error', reject)
        .end(),
    );
    let n = 0;
    for await (const c of res) n += c.length;
    sizes[f] = n;
  }
  return sizes;
}

try {
  cpSync(join(ROOT, 'examples', 'hello'), work, { recursive: true });
  const port = await freePort();
  const uiPort = await freePort();
  writeFileSync(
    join(work, 'cairn.yaml'),
    readFileSync(join(work, 'cairn.yaml'), 'utf8')
      .replace(/listen: "127\.0\.0\.1:\d+"/, `listen: "127.0.0.1:${port}"`)
      .replace(/\n {2}prod:[\s\S]*?(?=\n[a-z]|\n?$)/, ''),
  );
  const spec = readFileSync(join(work, 'cairn.yaml'), 'utf8');
  // A canary that holds its first step for the whole measurement.
  writeFileSync(join(work, 'cairn.yaml'), spec.replace(/pauseMs: [^ ,}]+/, 'pauseMs: 10m'));
  await cairn(['init']);
  await cairn(['secret', 'set', 'API_TOKEN', '--generate']);
  await cairn(['up', '--detach', '--ui', `127.0.0.1:${uiPort}`]);
  const info = JSON.parse(readFileSync(join(work, '.cairn', 'api.json'), 'utf8'));
  const ui = info.ui;
  await cairn(['deploy', 'hello', '--env', 'dev', '--wait', '--timeout', '180s']);
  writeFileSync(join(work, 'config', 'v2.json'), JSON.stringify({ version: 'v2', greeting: 'bench' }));
  writeFileSync(
    join(work, 'cairn.yaml'),
    readFileSync(join(work, 'cairn.yaml'), 'utf8').replace(/\.\/config\/[\w-]+\.json/, './config/v2.json'),
  );
  await cairn(['deploy', 'hello', '--env', 'dev']);
  const stop = pacedLoad(`http://127.0.0.1:${port}/`, RPS);
  // Measure once the canary holds its step (instances started, health checks settled).
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const s = JSON.parse(await cairn(['status', '--env', 'dev', '-o', 'json'])).services[0];
    if (s.rollout?.stage === 'stepping') break;
    await sleep(250);
  }
  await sleep(3000);
  const idleBefore = await cpuOver(info.pid, SECONDS);

  const token = readFileSync(join(work, '.cairn', 'api-token'), 'utf8').trim();
  const login = await fetch(`${ui}/ui/login`, {
    method: 'POST',
    headers: { origin: ui, 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const cookie = login.headers.get('set-cookie').split(';')[0];
  const streams = Array.from({ length: CLIENTS }, () => stream(ui, cookie));
  await sleep(3000);
  const before = streams.map((s) => s.stats.messages);
  const watched = await cpuOver(info.pid, SECONDS);
  const received = streams.map((s, i) => s.stats.messages - before[i]);
  for (const s of streams) s.close();
  await sleep(1000);
  const idleAfter = await cpuOver(info.pid, SECONDS);
  const idle = Number(((idleBefore + idleAfter) / 2).toFixed(2));
  const load = stop();
  const sizes = await firstLoad(ui);
  const firstLoadKb = Number((Object.values(sizes).reduce((a, b) => a + b, 0) / 1024).toFixed(1));
  const added = Number((watched - idle).toFixed(2));
  const status = JSON.parse(await cairn(['status', '--env', 'dev', '-o', 'json'])).services[0];
  const result = {
    clients: CLIENTS,
    seconds: SECONDS,
    paced_rps: RPS,
    load,
    rollout: { phase: status.rollout?.phase, step: status.rollout?.step, weight: status.rollout?.weight },
    control_plane_cpu_pct: {
      without_dashboards: idle,
      without_before: idleBefore,
      without_after: idleAfter,
      with_dashboards: watched,
      added,
    },
    messages_per_client: { min: Math.min(...received), max: Math.max(...received) },
    first_message_bytes: streams[0].stats.firstBytes,
    first_load_gzip_bytes: sizes,
    first_load_kb: firstLoadKb,
    goals: { added_cpu_pct: GOAL_CPU_PCT, first_load_kb: GOAL_FIRST_LOAD_KB },
    met: added < GOAL_CPU_PCT && firstLoadKb < GOAL_FIRST_LOAD_KB,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `ui: ${CLIENTS} dashboards add ${added}% CPU to the control plane (${idle}% → ${watched}%, goal < ${GOAL_CPU_PCT}%), ` +
      `${result.messages_per_client.min}–${result.messages_per_client.max} snapshots each in ${SECONDS} s; ` +
      `first load ${firstLoadKb} kB gzipped (goal < ${GOAL_FIRST_LOAD_KB}) — ${result.met ? 'met' : 'MISSED'}`,
  );
} finally {
  await cairn(['down']).catch(() => {});
  rmSync(work, { recursive: true, force: true });
}
