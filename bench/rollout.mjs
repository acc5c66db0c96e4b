#!/usr/bin/env node
// Benchmark: time to deploy (command → 100% on the new release) by blue/green and by canary
// without pauses, and rollback time to a warm and to a cold release, for examples/hello on this
// machine's runtime. Prints one JSON object, then a one-line summary. Needs `npm run build`.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CAIRN = join(ROOT, 'bin', 'cairn.js');
const work = mkdtempSync(join(tmpdir(), 'cairn-bench-rollout-'));

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
    const t0 = performance.now();
    const child = spawn(process.execPath, [CAIRN, ...args], { cwd: work, env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`cairn ${args.join(' ')} exited ${code}: ${err || out}`));
      else resolve({ out, wallMs: Math.round(performance.now() - t0) });
    });
  });
}

const spec = (port, deploy) => `project: hello
services:
  hello:
    build: { context: ./app, include: ["**/*.js", "package.json"], entrypoint: ["node", "server.js"], files: { /etc/hello/config.json: ./config/v.json } }
    run: { port: 8080, replicas: 2, health: { path: /healthz, intervalMs: 100, timeoutMs: 1000 }, tmpfs: [/tmp] }
    deploy: ${deploy}
environments:
  dev: { gateway: { listen: "127.0.0.1:${port}" } }
routes: [{ host: "*", path: /, service: hello }]
`;

async function release(version, deploy) {
  writeFileSync(join(work, 'config', 'v.json'), JSON.stringify({ version }));
  const file = join(work, 'cairn.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/deploy: .*/, `deploy: ${deploy}`));
  await cairn(['build', 'hello']);
  const { out, wallMs } = await cairn([
    'deploy',
    'hello',
    '--env',
    'dev',
    '--image',
    'hello',
    '--wait',
    '--output',
    'json',
  ]);
  const { deployment } = JSON.parse(out);
  return { serverMs: deployment.durationMs, wallMs };
}

async function rollback() {
  const { out, wallMs } = await cairn(['rollback', 'hello', '--env', 'dev', '--wait', '--output', 'json']);
  return { serverMs: JSON.parse(out).deployment.durationMs, wallMs };
}

const BLUEGREEN = '{ strategy: bluegreen, scaleDownDelayMs: 10m }';
const CANARY =
  '{ strategy: canary, steps: [{ weight: 20 }, { weight: 50 }, { weight: 100 }], scaleDownDelayMs: 10m }';
const COLD = '{ strategy: bluegreen, scaleDownDelayMs: 0 }';

let upStarted = false;
try {
  cpSync(join(ROOT, 'examples', 'hello'), work, { recursive: true });
  writeFileSync(join(work, 'cairn.yaml'), spec(await freePort(), BLUEGREEN));
  writeFileSync(join(work, 'config', 'v.json'), JSON.stringify({ version: 'v0' }));
  await cairn(['init']);
  await cairn(['up', '--detach']);
  upStarted = true;
  const first = await release('v1', BLUEGREEN);
  const bluegreen = await release('v2', BLUEGREEN);
  const canary = await release('v3', CANARY);
  const warm = await rollback();
  await release('v4', COLD);
  const cold = await rollback();
  const result = {
    bench: 'rollout',
    replicas: 2,
    firstDeployMs: first.serverMs,
    bluegreenMs: bluegreen.serverMs,
    canaryNoPausesMs: canary.serverMs,
    rollbackWarmMs: warm.serverMs,
    rollbackColdMs: cold.serverMs,
    commandWallMs: {
      bluegreen: bluegreen.wallMs,
      canary: canary.wallMs,
      rollbackWarm: warm.wallMs,
      rollbackCold: cold.wallMs,
    },
    note: 'server-side: from the rollout reaching cairn up to 100% of traffic on the target release',
  };
  console.log(JSON.stringify(result));
  console.log(
    `rollout: blue/green ${result.bluegreenMs} ms, canary (no pauses) ${result.canaryNoPausesMs} ms, rollback warm ${result.rollbackWarmMs} ms, cold ${result.rollbackColdMs} ms (2 replicas)`,
  );
} finally {
  if (upStarted) await cairn(['down']).catch(() => {});
  rmSync(work, { recursive: true, force: true });
}
