#!/usr/bin/env node
// Benchmark: validate + plan of a generated cairn.yaml with 5,000 services (target: under 2 s).
// Prints one JSON object, then a one-line summary. Uses the compiled code in dist/ (npm run build).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { planChanges } from '../dist/rollout/index.js';
import { checkSpecFile, releaseConfig } from '../dist/spec/index.js';

const SERVICES = Number(process.env.SERVICES ?? 5000);
const RUNS = Number(process.env.RUNS ?? 5);
const TARGET_MS = 2000;

function generate(n) {
  const lines = ['project: big', 'services:'];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  svc-${i}:`,
      '    build:',
      '      context: ./app',
      '      include: ["**/*.js", "package.json"]',
      '      entrypoint: ["node", "server.js"]',
      `      env: { SERVICE_INDEX: "${i}", LOG_LEVEL: info }`,
      '      files: { /etc/app/config.json: ./config.json }',
      '    run:',
      `      port: ${10000 + (i % 50000)}`,
      '      replicas: 2',
      '      health: { path: /healthz, intervalMs: 1s, timeoutMs: 500 }',
      '      tmpfs: [/tmp]',
      '      secrets: [DB_PASSWORD]',
      '    deploy:',
      `      strategy: ${['canary', 'bluegreen', 'rolling'][i % 3]}`,
      '      analysis: { maxErrorRate: 0.01, maxP99Ms: 500ms, minRequests: 200 }',
    );
  }
  lines.push(
    'environments:',
    '  dev: { gateway: { listen: "127.0.0.1:8080" } }',
    '  prod: { after: dev, approval: true, gateway: { listen: "127.0.0.1:8443" } }',
    'routes:',
  );
  for (let i = 0; i < n; i++) lines.push(`  - { host: "svc-${i}.example.com", path: /, service: svc-${i} }`);
  return `${lines.join('\n')}\n`;
}

const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-spec-'));
try {
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'config.json'), '{}');
  const file = join(dir, 'cairn.yaml');
  const text = generate(SERVICES);
  writeFileSync(file, text);
  const samples = [];
  let items = 0;
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    const checked = checkSpecFile(file);
    if (!checked.spec) throw new Error(`generated spec is invalid: ${checked.diagnostics[0]?.message}`);
    const t1 = performance.now();
    const spec = checked.spec;
    const desired = Object.keys(spec.environments).flatMap((env) =>
      Object.entries(spec.services).map(([name, s]) => ({
        env,
        service: name,
        config: { ...releaseConfig(spec, name) },
        replicas: s.run.replicas,
        strategy: s.deploy.strategy,
      })),
    );
    // Half of the services already run in dev with the same config, one in ten with another port.
    const current = desired
      .filter((d, i) => d.env === 'dev' && i % 2 === 0)
      .map((d, i) => ({
        env: d.env,
        service: d.service,
        releaseId: `rel-${i}`,
        imageDigest: 'sha256:x',
        config: i % 10 === 0 ? { ...d.config, run: { ...d.config.run, port: 1 } } : d.config,
        instances: 2,
      }));
    const plan = planChanges(current, desired);
    const t2 = performance.now();
    items = plan.items.length;
    samples.push({ validateMs: t1 - t0, planMs: t2 - t1, totalMs: t2 - t0 });
  }
  const median = (k) => samples.map((s) => s[k]).sort((a, b) => a - b)[Math.floor(samples.length / 2)];
  const result = {
    bench: 'spec',
    services: SERVICES,
    specBytes: Buffer.byteLength(text),
    runs: RUNS,
    validateMs: Math.round(median('validateMs')),
    planMs: Math.round(median('planMs')),
    totalMs: Math.round(median('totalMs')),
    planItems: items,
    targetMs: TARGET_MS,
    pass: median('totalMs') < TARGET_MS,
    rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
  console.log(JSON.stringify(result));
  console.log(
    `spec: validate+plan of ${SERVICES} services in ${result.totalMs} ms (validate ${result.validateMs} ms, plan ${result.planMs} ms; target < ${TARGET_MS} ms) ${result.pass ? 'PASS' : 'FAIL'}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
