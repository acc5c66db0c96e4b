#!/usr/bin/env node
// Gateway throughput and latency against nginx as a reverse proxy, with the same backend and the
// same load tool (wrk) in the same run, plus the gateway while weights flip every 100 ms. Both
// engines are measured: `builtin` (cairn's HTTP/1.1 proxy in Node.js) and `haproxy` (HAProxy as
// the data plane, steered by cairn; its CPU per request counts HAProxy plus cairn's log reader).
// The built-in engine is measured twice: in this process (`gateway`) and as `cairn up` runs it, in
// a gateway process of its own steered over its control socket (`gatewayProcess`).
// Needs `npm run build`, `wrk` and `nginx` (Debian packages). Prints JSON, then a one-line summary.
// Phases are interleaved over BENCH_ROUNDS rounds and medians reported, because on a shared
// machine the load of other processes shifts between phases.
// Environment: BENCH_SECONDS (per phase, default 5), BENCH_ROUNDS (default 5), BENCH_CONNECTIONS (32),
// BENCH_BASELINE_MAIN: the gateway-main.js of another build (say, before a change), measured as a
// gateway process too, right after this build's in each round (`gatewayProcessBaseline`).
// The goal (issue 27): the gateway process, as `cairn up` runs it, serves at least as many requests
// per second as nginx with one worker, with a p99 within 1.2x of nginx's; both are the median of the
// per-round ratios, each round measuring the two back to back with the same wrk settings.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { createGateway, SupervisedGateway } from '../dist/gateway/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const LOW_CONNECTIONS = 4;
const FLIP_EVERY_MS = 100;
const GOAL_THROUGHPUT_RATIO = 1.0;
const GOAL_P99_RATIO = 1.2;
const BASELINE_MAIN = process.env.BENCH_BASELINE_MAIN;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * One nginx master with one worker, running `body` inside `http {}`. `ownSession`: in a session of
 * its own, as a daemonised nginx (it calls setsid) and cairn's gateway process (started detached)
 * run; with the kernel's autogroup scheduling a session is also the group CPU time is shared by,
 * so a proxy left in this process's session would share one group with wrk and the backend.
 */
async function startNginx(dir, name, body, ownSession = false) {
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    `worker_processes 1; daemon off; user root; pid ${dir}/${name}.pid; error_log ${dir}/${name}.err warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}/${name}-body; proxy_temp_path ${dir}/${name}-proxy;
  fastcgi_temp_path ${dir}/${name}-f; uwsgi_temp_path ${dir}/${name}-u; scgi_temp_path ${dir}/${name}-s;
  ${body} }\n`,
  );
  const child = spawn('nginx', ['-c', conf, '-p', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: ownSession,
  });
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error(`start nginx ${name}: exited with ${child.exitCode}`);
  return child;
}

const backendBlock = (port, release) =>
  `server { listen 127.0.0.1:${port}; keepalive_requests 100000;
    location / { add_header x-release ${release}; return 200 "hello from ${release}\\n"; } }`;

const proxyBlock = (port, backendPort) =>
  `upstream backend { server 127.0.0.1:${backendPort}; keepalive 128; }
  server { listen 127.0.0.1:${port}; keepalive_requests 100000;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr; } }`;

function parseMs(text) {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return Number.NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
}

/** Runs wrk and returns requests/s, p50/p99 (ms), and requests lost (non-2xx/3xx and socket errors). */
async function wrk(url, connections, seconds = SECONDS, extra = []) {
  const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...extra, url]);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  await once(child, 'exit');
  const num = (re) => Number(re.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    connections,
    requestsPerS: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: parseMs(/\n\s+50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99Ms: parseMs(/\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    requests: num(/(\d+) requests in/),
    lost:
      num(/Non-2xx or 3xx responses: (\d+)/) +
      (socketErrors
        ? socketErrors
            .slice(1)
            .map(Number)
            .reduce((a, b) => a + b, 0)
        : 0),
  };
}

/**
 * Node.js's own HTTP stack as a proxy: node:http server + undici client and nothing else (no
 * routing, policies, metrics or retries). The gateway's own engine on raw sockets is measured
 * against it, to show what that engine saves.
 */
async function startBareProxy(backendPort) {
  const pool = new Pool(`http://127.0.0.1:${backendPort}`);
  const server = createHttpServer((req, res) => {
    pool.dispatch(
      {
        method: req.method,
        path: req.url,
        headers: req.rawHeaders.filter((_, i, a) => i % 2 || a[i] !== 'Connection'),
        body: null,
      },
      {
        onConnect() {},
        onHeaders(status, raw) {
          res.writeHead(
            status,
            raw.map((b) => b.toString('latin1')),
          );
          return true;
        },
        onData: (chunk) => res.write(chunk),
        onComplete: () => res.end(),
        onError: () => res.destroy(),
      },
    );
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    close: () => new Promise((r) => server.close(r)).then(() => pool.destroy()),
  };
}

/**
 * The HAProxy engine in a child process (bench/haproxy-engine.mjs), as `cairn up` runs it:
 * `setPools` there is driven through stdin, one weight per line.
 */
async function startHaproxyEngine(addressA, addressB) {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, 'haproxy-engine.mjs'), addressA, addressB],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('start the haproxy engine: its process exited (see above)');
  const info = JSON.parse(first.value);
  return {
    ...info,
    async setPools(_service, pools) {
      child.stdin.write(`${pools[0].weight}\n`);
      await lines.next();
    },
    async close() {
      child.stdin.end();
      await once(child, 'exit');
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSecondsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** The nginx worker of a master started with one worker. */
function workerOf(masterPid) {
  const children = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').trim().split(/\s+/);
  return Number(children[0]);
}

/** wrk plus the proxy's CPU time per request: unlike requests/s, barely moved by other load. */
async function wrkCpu(url, connections, cpuSeconds, parts = {}) {
  const before = cpuSeconds();
  const partsBefore = Object.fromEntries(Object.entries(parts).map(([k, f]) => [k, f()]));
  const r = await wrk(url, connections);
  const perRequest = (seconds) => round((seconds * 1e6) / Math.max(1, r.requests), 1);
  r.cpuUsPerRequest = perRequest(cpuSeconds() - before);
  for (const [k, f] of Object.entries(parts)) r[`${k}CpuUsPerRequest`] = perRequest(f() - partsBefore[k]);
  return r;
}

const round = (n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-gw-'));
  const [backendA, backendB, nginxPort] = [await freePort(), await freePort(), await freePort()];
  const children = [];
  let gateway;
  let gatewayProcess;
  let baselineProcess;
  let baselineAddress;
  let haproxy;
  let bare;
  try {
    children.push(
      await startNginx(dir, 'backend', backendBlock(backendA, 'rel-a') + backendBlock(backendB, 'rel-b')),
    );
    children.push(await startNginx(dir, 'proxy', proxyBlock(nginxPort, backendA), true));
    gateway = createGateway({ listen: '127.0.0.1:0', routes: [{ host: '*', path: '/', service: 'web' }] });
    const gatewayAddress = await gateway.listen();
    // The same engine as `cairn up` runs it: a gateway process of its own, steered over its socket,
    // its metrics mirrored into this process every 500 ms.
    gatewayProcess = new SupervisedGateway({
      env: 'bench',
      root: dir,
      runDir: join(dir, 'run'),
      logsDir: dir,
      config: { listen: '127.0.0.1:0', routes: [{ host: '*', path: '/', service: 'web' }] },
    });
    const gatewayProcessAddress = await gatewayProcess.listen();
    if (BASELINE_MAIN) {
      baselineProcess = new SupervisedGateway({
        env: 'baseline',
        root: dir,
        runDir: join(dir, 'run'),
        logsDir: dir,
        config: { listen: '127.0.0.1:0', routes: [{ host: '*', path: '/', service: 'web' }] },
        mainScript: BASELINE_MAIN,
      });
      baselineAddress = await baselineProcess.listen();
    }
    haproxy = await startHaproxyEngine(`127.0.0.1:${backendA}`, `127.0.0.1:${backendB}`);
    const haproxyAddress = haproxy.address;
    const pool = (release, address, weight) => ({
      release,
      weight,
      endpoints: [{ id: `ins-${release}`, address }],
    });
    const setWeight = (a, router = gateway) =>
      router.setPools('web', [
        pool('rel-a', `127.0.0.1:${backendA}`, a),
        pool('rel-b', `127.0.0.1:${backendB}`, 100 - a),
      ]);
    setWeight(100);
    await setWeight(100, gatewayProcess);
    if (baselineProcess) await setWeight(100, baselineProcess);
    bare = await startBareProxy(backendA);
    const baselineUrl = baselineAddress && `http://${baselineAddress}/`;
    if (baselineUrl) await wrk(baselineUrl, CONNECTIONS, 2);

    await wrk(`http://${gatewayAddress}/`, CONNECTIONS, 2); // warm up every path (JIT, keep-alive pools)
    await wrk(`http://${gatewayProcessAddress}/`, CONNECTIONS, 2);
    await wrk(`http://${haproxyAddress}/`, CONNECTIONS, 2);
    await wrk(`http://127.0.0.1:${nginxPort}/`, CONNECTIONS, 2);
    const urls = {
      direct: `http://127.0.0.1:${backendA}/`,
      nginx: `http://127.0.0.1:${nginxPort}/`,
      gateway: `http://${gatewayAddress}/`,
      gatewayProcess: `http://${gatewayProcessAddress}/`,
      haproxy: `http://${haproxyAddress}/`,
      bareNodeProxy: `http://127.0.0.1:${bare.port}/`,
    };
    let flips = 0;
    const flipping = async (router, url) => {
      const flipper = setInterval(() => {
        flips++;
        setWeight(flips % 2 === 0 ? 100 : flips % 4 === 1 ? 0 : 50, router);
      }, FLIP_EVERY_MS);
      const r = await wrk(url, CONNECTIONS);
      clearInterval(flipper);
      await setWeight(100, router);
      return r;
    };
    // The gateway and the bare proxy run in this process; nginx's proxying happens in its worker.
    const ownCpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    const nginxWorker = workerOf(children[1].pid);
    const nginxCpu = () => cpuSecondsOf(nginxWorker);
    // HAProxy's process plus the cairn process that steers it and reads its log.
    const haproxyCpu = () => cpuSecondsOf(haproxy.haproxyPid) + cpuSecondsOf(haproxy.pid);
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) {
      rounds.push({
        nginx: await wrkCpu(urls.nginx, CONNECTIONS, nginxCpu),
        gatewayProcess: await wrkCpu(urls.gatewayProcess, CONNECTIONS, () =>
          cpuSecondsOf(gatewayProcess.pid),
        ),
        ...(baselineUrl && {
          gatewayProcessBaseline: await wrkCpu(baselineUrl, CONNECTIONS, () =>
            cpuSecondsOf(baselineProcess.pid),
          ),
        }),
        gateway: await wrkCpu(urls.gateway, CONNECTIONS, ownCpu),
        haproxy: await wrkCpu(urls.haproxy, CONNECTIONS, haproxyCpu, {
          haproxyProcess: () => cpuSecondsOf(haproxy.haproxyPid),
          cairnLogReader: () => cpuSecondsOf(haproxy.pid),
        }),
        bareNodeProxy: await wrkCpu(urls.bareNodeProxy, CONNECTIONS, ownCpu),
        gatewayFlipping: await flipping(gateway, urls.gateway),
        haproxyFlipping: await flipping(haproxy, urls.haproxy),
        direct: await wrk(urls.direct, LOW_CONNECTIONS),
        nginxLow: await wrk(urls.nginx, LOW_CONNECTIONS),
        gatewayLow: await wrk(urls.gateway, LOW_CONNECTIONS),
        gatewayProcessLow: await wrk(urls.gatewayProcess, LOW_CONNECTIONS),
        haproxyLow: await wrk(urls.haproxy, LOW_CONNECTIONS),
      });
    }
    const median = (name, field) => {
      const values = rounds.map((r) => r[name][field]).sort((a, b) => a - b);
      return values[Math.floor(values.length / 2)];
    };
    const summary = {};
    for (const name of Object.keys(rounds[0]))
      summary[name] = {
        requestsPerS: median(name, 'requestsPerS'),
        p50Ms: median(name, 'p50Ms'),
        p99Ms: median(name, 'p99Ms'),
        ...Object.fromEntries(
          Object.keys(rounds[0][name])
            .filter((k) => k.endsWith('CpuUsPerRequest') || k === 'cpuUsPerRequest')
            .map((k) => [k, median(name, k)]),
        ),
        lost: rounds.reduce((sum, r) => sum + r[name].lost, 0),
      };
    const ratioOf = (name, field = 'requestsPerS') => {
      const ratios = rounds.map((r) => r[name][field] / r.nginx[field]).sort((a, b) => a - b);
      return round(ratios[Math.floor(ratios.length / 2)]);
    };
    const goal = {
      what: `gateway process >= ${GOAL_THROUGHPUT_RATIO}x nginx (1 worker) requests/s, p99 <= ${GOAL_P99_RATIO}x nginx's, wrk -t1 -c${CONNECTIONS}`,
      throughputRatio: ratioOf('gatewayProcess'),
      p99Ratio: ratioOf('gatewayProcess', 'p99Ms'),
      perRoundThroughputRatios: rounds.map((r) =>
        round(r.gatewayProcess.requestsPerS / r.nginx.requestsPerS),
      ),
      perRoundP99Ratios: rounds.map((r) => round(r.gatewayProcess.p99Ms / r.nginx.p99Ms)),
    };
    if (baselineUrl)
      goal.baseline = {
        main: BASELINE_MAIN,
        throughputRatio: ratioOf('gatewayProcessBaseline'),
        p99Ratio: ratioOf('gatewayProcessBaseline', 'p99Ms'),
        cpuUsPerRequest: summary.gatewayProcessBaseline.cpuUsPerRequest,
      };
    goal.met = goal.throughputRatio >= GOAL_THROUGHPUT_RATIO && goal.p99Ratio <= GOAL_P99_RATIO;
    const result = {
      seconds: SECONDS,
      rounds: ROUNDS,
      connections: CONNECTIONS,
      lowConnections: LOW_CONNECTIONS,
      flips,
      goal,
      median: summary,
      throughputRatio: ratioOf('gateway'),
      haproxyThroughputRatio: ratioOf('haproxy'),
      gatewayProcessThroughputRatio: ratioOf('gatewayProcess'),
      bareNodeProxyRatio: round(summary.bareNodeProxy.requestsPerS / summary.nginx.requestsPerS),
      addedP99MsVsDirect: round(summary.gatewayLow.p99Ms - summary.direct.p99Ms, 3),
      addedP99MsVsNginx: round(summary.gatewayLow.p99Ms - summary.nginxLow.p99Ms, 3),
      haproxyAddedP99MsVsDirect: round(summary.haproxyLow.p99Ms - summary.direct.p99Ms, 3),
      loadAverage: (await import('node:os')).loadavg().map((l) => round(l)),
      perRound: rounds,
    };
    // Bad input must not grow memory: a flood of oversized heads (each answered 431, connection closed).
    const rssBeforeMb = process.memoryUsage().rss / 2 ** 20;
    const flood = await wrk(urls.gateway, CONNECTIONS, SECONDS, ['-H', `X-Big: ${'a'.repeat(20_000)}`]);
    result.oversizedHeaderFlood = {
      requests: flood.requests,
      rssBeforeMb: round(rssBeforeMb, 1),
      rssAfterMb: round(process.memoryUsage().rss / 2 ** 20, 1),
    };
    const m = summary;
    console.log(JSON.stringify(result, null, 2));
    console.log(
      `goal: ${goal.what}: ${goal.throughputRatio}x throughput, ${goal.p99Ratio}x p99 ` +
        `(per round: ${goal.perRoundThroughputRatios.join(' ')} / ${goal.perRoundP99Ratios.join(' ')}) -> ` +
        `${goal.met ? 'met' : 'NOT met'}; CPU per request: gateway process ${m.gatewayProcess.cpuUsPerRequest} us, ` +
        `nginx ${m.nginx.cpuUsPerRequest} us` +
        (goal.baseline
          ? `; baseline build: ${goal.baseline.throughputRatio}x throughput, ${goal.baseline.p99Ratio}x p99, ${goal.baseline.cpuUsPerRequest} us CPU/request`
          : '') +
        `; load average ${result.loadAverage[0]}`,
    );
    console.log(
      `median of ${ROUNDS}: haproxy engine ${Math.round(m.haproxy.requestsPerS)} req/s ` +
        `(${result.haproxyThroughputRatio}x nginx, ${m.haproxy.cpuUsPerRequest} us CPU/request: haproxy ` +
        `${m.haproxy.haproxyProcessCpuUsPerRequest}, cairn log reader ${m.haproxy.cairnLogReaderCpuUsPerRequest}; ` +
        `p99 at c=${LOW_CONNECTIONS} +${result.haproxyAddedP99MsVsDirect} ms vs direct, flipping ` +
        `${Math.round(m.haproxyFlipping.requestsPerS)} req/s lost ${m.haproxyFlipping.lost}); builtin engine: gateway ${Math.round(m.gateway.requestsPerS)} req/s vs nginx ${Math.round(m.nginx.requestsPerS)} req/s ` +
        `(${result.throughputRatio}x at c=${CONNECTIONS}; bare node proxy ${result.bareNodeProxyRatio}x); ` +
        `CPU per request: gateway ${m.gateway.cpuUsPerRequest} us, nginx ${m.nginx.cpuUsPerRequest} us, ` +
        `bare node proxy ${m.bareNodeProxy.cpuUsPerRequest} us; ` +
        `p99 at c=${LOW_CONNECTIONS}: gateway ${m.gatewayLow.p99Ms} ms, nginx ${m.nginxLow.p99Ms} ms, direct ${m.direct.p99Ms} ms ` +
        `(+${result.addedP99MsVsDirect} ms vs direct); flipping every ${FLIP_EVERY_MS} ms (${flips} flips): ` +
        `${Math.round(m.gatewayFlipping.requestsPerS)} req/s, p99 ${m.gatewayFlipping.p99Ms} ms, lost ${m.gatewayFlipping.lost}; ` +
        `gateway process (as cairn up runs it): ${Math.round(m.gatewayProcess.requestsPerS)} req/s ` +
        `(${result.gatewayProcessThroughputRatio}x nginx), ${m.gatewayProcess.cpuUsPerRequest} us CPU/request, ` +
        `p99 at c=${LOW_CONNECTIONS} ${m.gatewayProcessLow.p99Ms} ms; ` +
        `load average ${result.loadAverage[0]}; ${flood.requests} oversized requests: rss ` +
        `${result.oversizedHeaderFlood.rssBeforeMb} -> ${result.oversizedHeaderFlood.rssAfterMb} MiB`,
    );
  } finally {
    await gateway?.close(1000);
    await gatewayProcess?.close(1000);
    await baselineProcess?.close(1000);
    await haproxy?.close();
    await bare?.close();
    for (const c of children) {
      c.kill('SIGTERM');
      if (c.exitCode === null) await once(c, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
