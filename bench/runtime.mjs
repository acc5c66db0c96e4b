#!/usr/bin/env node
// Runtime benchmark (run `npm run build` first): for each usable driver (runc, bwrap), prepare()
// time of the examples/hello bundle cold and cached, then p50/p95 time from start() to the first
// healthy answer over N instances (one at a time), and resident memory per running instance. For
// comparison, the boot time of the same service run directly with node on the host, in the same run.
// runc runs twice: on the host network and isolated (own network namespace, veth, nftables), with
// the throughput of one instance through the built-in gateway (wrk, 16 keep-alive connections, 3 s)
// over loopback vs veth; this process joins the gateway's cgroup, as the control plane does.
// Prints one JSON document, then a one-line summary. Bounded: every wait has a deadline.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createGateway } from '../dist/gateway/index.js';
import { newInstanceId } from '../dist/lib/index.js';
import {
  createRuntimeDriver,
  detectDrivers,
  freeLoopbackPort,
  HostNetwork,
  hostNetworkSupport,
} from '../dist/runtime/index.js';
import { descendants } from '../dist/runtime/proc.js';
import { buildHelloImage } from '../dist/runtime/testing/fixture-image.js';
import { probeRunSpec } from '../dist/runtime/testing/probe-app.js';

const N = Number(process.env.RUNTIME_BENCH_N ?? 20);
const HEALTH_DEADLINE_MS = 10_000;
const POLL_MS = 5;
const TARGET_OVERHEAD_MS = 300;
const TARGET_NETWORK_MS = 50;
const THROUGHPUT_MS = 3000;
const THROUGHPUT_CONNECTIONS = 16;
const REPO = resolve(import.meta.dirname, '..');
const LOAD_AT_START = loadavg().map((l) => Number(l.toFixed(2)));
const work = mkdtempSync(join(tmpdir(), 'cairn-runtime-bench-'));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)].toFixed(1));
};

async function untilHealthy(endpoint, t0) {
  const deadline = t0 + HEALTH_DEADLINE_MS;
  while (performance.now() < deadline) {
    const ok = await fetch(`http://${endpoint}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`instance at ${endpoint} not healthy within ${HEALTH_DEADLINE_MS} ms`);
}

/**
 * Requests per second through cairn's built-in gateway (in this process, as in the control plane)
 * to one instance, driven by wrk over keep-alive connections for a bounded time; non-2xx counted.
 */
async function gatewayThroughput(endpoint) {
  const gateway = createGateway({
    listen: '127.0.0.1:0',
    routes: [{ host: '*', path: '/', service: 'hello' }],
  });
  const address = await gateway.listen();
  await gateway.setPools('hello', [
    { release: 'rel-bench', weight: 100, endpoints: [{ id: 'ins-bench', address: endpoint }] },
  ]);
  try {
    const child = spawn('wrk', [
      '-t1',
      `-c${THROUGHPUT_CONNECTIONS}`,
      `-d${THROUGHPUT_MS / 1000}s`,
      `http://${address}/`,
    ]);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await once(child, 'exit');
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    return { requestsPerSec: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)), non2xx };
  } finally {
    await gateway.close(1000);
  }
}

function rssKb(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
      total += m ? Number(m[1]) : 0;
    } catch {}
  }
  return total;
}

/** The same service started directly with node on the host (its own boot time). */
async function directBoot(project) {
  const times = [];
  for (let i = 0; i < N; i++) {
    const port = await freeLoopbackPort();
    const t0 = performance.now();
    const child = spawn(process.execPath, ['server.js'], {
      cwd: join(project, 'app'),
      env: { PORT: String(port), HELLO_CONFIG: join(project, 'config/v1.json') },
      stdio: 'ignore',
    });
    try {
      times.push(await untilHealthy(`127.0.0.1:${port}`, t0));
    } finally {
      child.kill('SIGKILL');
    }
  }
  return { p50Ms: pct(times, 50), p95Ms: pct(times, 95) };
}

async function benchDriver(kind, image, isolateNetwork = false) {
  const name = isolateNetwork ? `${kind}-isolated` : kind;
  const dirs = {
    bundlesDir: join(work, name, 'bundles'),
    runtimeDir: join(work, name, 'rt'),
    logsDir: join(work, name, 'logs'),
  };
  const net = isolateNetwork ? new HostNetwork(dirs.runtimeDir) : undefined;
  await net?.admitThisProcess();
  const driver = createRuntimeDriver(kind, { ...dirs, isolateNetwork, warn: () => {} });
  let t0 = performance.now();
  const bundle = await driver.prepare({ digest: image.digest, source: image.source });
  const prepareColdMs = performance.now() - t0;
  t0 = performance.now();
  await driver.prepare({ digest: image.digest, source: image.source });
  const prepareCachedMs = performance.now() - t0;
  const times = [];
  const handles = [];
  try {
    for (let i = 0; i < N; i++) {
      const port = await freeLoopbackPort();
      const spec = {
        id: newInstanceId(),
        releaseId: 'rel-bench',
        service: 'hello',
        env: 'bench',
        bundle,
        run: probeRunSpec(),
        port,
      };
      const start = performance.now();
      const handle = await driver.start(spec);
      handles.push(handle);
      times.push(await untilHealthy(handle.endpoint, start));
    }
    const rss = handles.map((h) => rssKb([h.pid, ...descendants(h.pid)]));
    return {
      network: isolateNetwork ? 'isolated (veth)' : 'host (loopback)',
      gateway: await gatewayThroughput(handles[0].endpoint),
      prepareColdMs: Math.round(prepareColdMs),
      prepareCachedMs: Number(prepareCachedMs.toFixed(2)),
      startToHealthy: { p50Ms: pct(times, 50), p95Ms: pct(times, 95), maxMs: pct(times, 100) },
      rssPerInstanceMb: Number((rss.reduce((a, b) => a + b, 0) / rss.length / 1024).toFixed(1)),
    };
  } finally {
    for (const h of handles) await driver.stop(h, 0).catch(() => undefined);
    await net?.teardown();
  }
}

try {
  const image = await buildHelloImage(REPO, join(work, 'image'));
  const project = join(work, 'direct');
  cpSync(join(REPO, 'examples/hello'), project, { recursive: true });
  const direct = await directBoot(project);
  const drivers = {};
  for (const d of detectDrivers().filter((x) => x.usable && x.kind !== 'process')) {
    drivers[d.kind] = { version: d.detail, ...(await benchDriver(d.kind, image)) };
    if (d.kind === 'runc' && hostNetworkSupport().ok)
      drivers['runc-isolated'] = { version: d.detail, ...(await benchDriver(d.kind, image, true)) };
  }
  const isolated = drivers['runc-isolated'];
  const network = isolated
    ? {
        addedStartP50Ms: Number(
          (isolated.startToHealthy.p50Ms - drivers.runc.startToHealthy.p50Ms).toFixed(1),
        ),
        upstreamVethVsLoopback: Number(
          (isolated.upstreamRequestsPerSec / drivers.runc.upstreamRequestsPerSec).toFixed(2),
        ),
        targetAddedStartP50Ms: TARGET_NETWORK_MS,
      }
    : undefined;
  const result = {
    bench: 'runtime',
    instances: N,
    loadAtStart: LOAD_AT_START,
    directBoot: direct,
    drivers,
    ...(network ? { network } : {}),
    target: { overheadP50Ms: TARGET_OVERHEAD_MS, meaning: 'p50 start→healthy ≤ direct boot p50 + 300 ms' },
  };
  console.log(JSON.stringify(result, null, 2));
  const parts = Object.entries(drivers).map(
    ([k, v]) =>
      `${k} p50 ${v.startToHealthy.p50Ms} ms / p95 ${v.startToHealthy.p95Ms} ms (overhead ${Math.round(v.startToHealthy.p50Ms - direct.p50Ms)} ms, ${v.startToHealthy.p50Ms - direct.p50Ms <= TARGET_OVERHEAD_MS ? 'within' : 'OVER'} target), ${v.rssPerInstanceMb} MB/instance, prepare cold ${v.prepareColdMs} ms cached ${v.prepareCachedMs} ms`,
  );
  const netLine = network
    ? `; network isolation adds ${network.addedStartP50Ms} ms at p50 (${network.addedStartP50Ms <= TARGET_NETWORK_MS ? 'within' : 'OVER'} ${TARGET_NETWORK_MS} ms), through the gateway ${isolated.gateway.requestsPerSec} req/s via veth vs ${drivers.runc.gateway.requestsPerSec} via loopback`
    : '';
  console.log(`runtime: direct boot p50 ${direct.p50Ms} ms; ${parts.join('; ')}${netLine}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
