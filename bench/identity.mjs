#!/usr/bin/env node
import { mkdtempSync, rmSync } from 'node:fs';
// Workload identity benchmark (run `npm run build` first): SVID issuance time (P-256 key + leaf
// signed by the workspace CA), instance start → first healthy answer with identity on vs off
// (bwrap, else runc; alternating, one instance at a time, the SVID issued and written inside the
// timed span), and the latency the identity hop adds per call (mTLS with the caller's SVID, keep-
// alive on both legs) over calling the same backend directly, and the latency gateway → instance
// mTLS (run.tls) adds through the built-in gateway over a plain backend (keep-alive on both legs,
// one connection each). Prints one JSON document, then a
// one-line summary with the goals of issue 26. Bounded: fixed counts, every wait has a deadline.
import { createServer, Agent as HttpAgent, request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createGateway } from '../dist/gateway/index.js';
import {
  createWorkloadCa,
  issueGatewayCertificate,
  issueHopCertificate,
  issueSvid,
  loadWorkloadCa,
} from '../dist/identity/index.js';
import { newInstanceId } from '../dist/lib/index.js';
import { createRuntimeDriver, detectDrivers, freeLoopbackPort } from '../dist/runtime/index.js';
import { buildHelloImage } from '../dist/runtime/testing/fixture-image.js';
import { probeRunSpec } from '../dist/runtime/testing/probe-app.js';
import { IdentityHop } from '../dist/server/identity-hop.js';

const ISSUES = Number(process.env.IDENTITY_BENCH_ISSUES ?? 300);
const STARTS = Number(process.env.IDENTITY_BENCH_STARTS ?? 10);
const CALLS = Number(process.env.IDENTITY_BENCH_CALLS ?? 3000);
const HEALTH_DEADLINE_MS = 10_000;
const POLL_MS = 2;
const GOALS = { issueP50Ms: 5, startAddedP50Ms: 10, hopAddedP50Ms: 1 };
const TD = 'bench.cairn';
const REPO = resolve(import.meta.dirname, '..');
const LOAD_AT_START = loadavg().map((l) => Number(l.toFixed(2)));
const work = mkdtempSync(join(tmpdir(), 'cairn-identity-bench-'));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)].toFixed(3));
};
const subject = (instance) => ({
  trustDomain: TD,
  env: 'bench',
  service: 'hello',
  release: 'rel-bench',
  instance,
});

async function issuance(ca) {
  const times = [];
  for (let i = 0; i < ISSUES; i++) {
    const t0 = performance.now();
    await issueSvid(ca, subject(`ins-${i}`), 3_600_000);
    times.push(performance.now() - t0);
  }
  return { n: ISSUES, p50Ms: pct(times, 50), p95Ms: pct(times, 95) };
}

async function untilHealthy(endpoint, t0) {
  while (performance.now() < t0 + HEALTH_DEADLINE_MS) {
    const ok = await fetch(`http://${endpoint}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`instance at ${endpoint} not healthy within ${HEALTH_DEADLINE_MS} ms`);
}

/** Start → healthy, alternating identity off and on, each instance stopped once measured. */
async function startToHealthy(ca) {
  const kind = ['bwrap', 'runc'].find((k) => detectDrivers().some((d) => d.kind === k && d.usable));
  if (!kind) return { skipped: 'neither bwrap nor runc is usable here' };
  const image = await buildHelloImage(REPO, join(work, 'image'));
  const dirs = {
    bundlesDir: join(work, 'bundles'),
    runtimeDir: join(work, 'runtime'),
    logsDir: join(work, 'logs'),
  };
  const driver = createRuntimeDriver(kind, { ...dirs, warn: () => {} });
  const bundle = await driver.prepare({ digest: image.digest, source: image.source });
  const off = [];
  const on = [];
  for (let i = 0; i < STARTS * 2; i++) {
    const withIdentity = i % 2 === 1;
    const id = newInstanceId();
    const spec = {
      id,
      releaseId: 'rel-bench',
      service: 'hello',
      env: 'bench',
      bundle,
      run: probeRunSpec(),
      port: await freeLoopbackPort(),
    };
    const t0 = performance.now();
    if (withIdentity) {
      const svid = await issueSvid(ca, subject(id), 3_600_000);
      spec.svid = { cert: svid.certPem, key: svid.keyPem, bundle: ca.bundlePem };
    }
    const handle = await driver.start(spec);
    try {
      (withIdentity ? on : off).push(await untilHealthy(handle.endpoint, t0));
    } finally {
      await driver.stop(handle, 0);
    }
  }
  const offP50 = pct(off, 50);
  const onP50 = pct(on, 50);
  return {
    driver: kind,
    n: STARTS,
    offP50Ms: offP50,
    onP50Ms: onP50,
    addedP50Ms: Number((onP50 - offP50).toFixed(2)),
  };
}

function get(request, options) {
  return new Promise((resolveCall, reject) => {
    const req = request(options, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolveCall() : reject(new Error(`status ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function timedCalls(request, options) {
  for (let i = 0; i < 100; i++) await get(request, options); // warm connections and JIT
  const times = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    await get(request, options);
    times.push(performance.now() - t0);
  }
  return times;
}

/** Per-call latency: direct keep-alive HTTP to the backend vs through the hop with an SVID. */
async function hopLatency(ca) {
  const backend = createServer((_req, res) => res.end('ok\n'));
  await new Promise((r) => backend.listen(0, '127.0.0.1', r));
  const backendAt = `127.0.0.1:${backend.address().port}`;
  const hop = new IdentityHop({
    trustDomain: TD,
    bundlePem: ca.bundlePem,
    cert: await issueHopCertificate(ca, TD, 3_600_000),
    caller: () => ({
      service: 'a',
      env: 'bench',
      release: 'rel-bench',
      live: true,
      state: 'healthy',
      allow: ['b'],
    }),
    endpoints: () => [backendAt],
    record: () => {},
  });
  const hopPort = await hop.listen(0);
  const svid = await issueSvid(ca, { ...subject('ins-caller'), service: 'a' }, 3_600_000);
  const direct = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const viaHop = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  try {
    const [host, port] = backendAt.split(':');
    const d = await timedCalls(httpRequest, { host, port, path: '/', agent: direct });
    const h = await timedCalls(httpsRequest, {
      host: '127.0.0.1',
      port: hopPort,
      path: '/b/',
      agent: viaHop,
      cert: svid.certPem,
      key: svid.keyPem,
      ca: ca.bundlePem,
    });
    const directP50 = pct(d, 50);
    const hopP50 = pct(h, 50);
    return {
      n: CALLS,
      directP50Ms: directP50,
      hopP50Ms: hopP50,
      hopP95Ms: pct(h, 95),
      addedP50Ms: Number((hopP50 - directP50).toFixed(3)),
    };
  } finally {
    direct.destroy();
    viaHop.destroy();
    await hop.close();
    backend.close();
  }
}

/** Per-request latency through the built-in gateway: a plain backend vs one serving TLS with its SVID. */
async function gatewayTlsLatency(ca) {
  const svid = await issueSvid(ca, { ...subject('ins-tls'), service: 'orders' }, 3_600_000);
  const plain = createServer((_req, res) => res.end('ok\n'));
  const tls = createHttpsServer(
    { cert: svid.certPem, key: svid.keyPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true },
    (_req, res) => res.end('ok\n'),
  );
  for (const s of [plain, tls]) await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const gateway = createGateway({
    listen: '127.0.0.1:0',
    routes: ['plain', 'orders'].map((service) => ({ host: `${service}.test`, path: '/', service })),
  });
  const [host, port] = (await gateway.listen()).split(':');
  const own = await issueGatewayCertificate(ca, TD, 'bench', 3_600_000);
  gateway.setIdentity({ ...own, bundlePem: ca.bundlePem });
  const pool = (server, tlsId) => [
    {
      release: 'rel-bench',
      weight: 100,
      endpoints: [{ id: `ins-${tlsId ? 'tls' : 'plain'}`, address: `127.0.0.1:${server.address().port}` }],
      ...(tlsId && { tls: { spiffeId: tlsId } }),
    },
  ];
  gateway.setPools('plain', pool(plain));
  gateway.setPools('orders', pool(tls, `spiffe://${TD}/bench/orders`));
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  try {
    const options = (service) => ({ host, port, path: '/', agent, headers: { host: `${service}.test` } });
    const p = await timedCalls(httpRequest, options('plain'));
    const t = await timedCalls(httpRequest, options('orders'));
    const plainP50 = pct(p, 50);
    const tlsP50 = pct(t, 50);
    return {
      n: CALLS,
      plainP50Ms: plainP50,
      tlsP50Ms: tlsP50,
      tlsP95Ms: pct(t, 95),
      addedP50Ms: Number((tlsP50 - plainP50).toFixed(3)),
    };
  } finally {
    agent.destroy();
    await gateway.close(0);
    plain.close();
    tls.close();
  }
}

try {
  await createWorkloadCa(join(work, 'keys'));
  const ca = await loadWorkloadCa(join(work, 'keys'));
  const result = {
    loadAtStart: LOAD_AT_START,
    issuance: await issuance(ca),
    startToHealthy: await startToHealthy(ca),
    hop: await hopLatency(ca),
    gatewayTls: await gatewayTlsLatency(ca),
    goals: GOALS,
  };
  console.log(JSON.stringify(result, null, 2));
  const s = result.startToHealthy;
  const start = s.skipped
    ? `start: skipped (${s.skipped})`
    : `start→healthy +${s.addedP50Ms} ms p50 with identity (${s.driver}; goal < ${GOALS.startAddedP50Ms})`;
  console.log(
    `identity: issuance p50 ${result.issuance.p50Ms} ms (goal < ${GOALS.issueP50Ms}); ${start}; mTLS hop +${result.hop.addedP50Ms} ms p50 per call (goal < ${GOALS.hopAddedP50Ms}); gateway → instance mTLS ${result.gatewayTls.addedP50Ms >= 0 ? '+' : ''}${result.gatewayTls.addedP50Ms} ms p50 per request`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
