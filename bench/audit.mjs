#!/usr/bin/env node
// Audit log benchmark (run `npm run build` first): durable appends per second (WAL,
// synchronous=FULL, so every transaction is fsync'd; 1000 records per transaction), full
// verification time, and inclusion proof size / generation / verification time, at 100k and 1M
// entries. Prints one JSON document, then a one-line summary. Bounded: stops appending after
// APPEND_BUDGET_MS even if 1M is not reached, and says so.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditKey, openAuditLog, verifyInclusion, verifyTlogProof } from '../dist/audit/index.js';
import { createSqliteStateStore } from '../dist/state/index.js';

const SIZES = (process.env.AUDIT_BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
const BATCH = Number(process.env.AUDIT_BENCH_BATCH ?? 1000);
const APPEND_BUDGET_MS = 150_000;
/** Appends measured at each size; the entries before them are written in FILL_BATCH transactions. */
const MEASURE_WINDOW = 50_000;
const FILL_BATCH = 10_000;
const VERIFY_REPEAT = 2000;
const TARGETS = { appendsPerSec: 20_000, verify1MMs: 10_000, proofVerifyMs: 1 };

const LOAD_AT_START = loadavg().map((l) => Number(l.toFixed(2)));
const dir = mkdtempSync(join(tmpdir(), 'cairn-audit-bench-'));
const store = createSqliteStateStore({ path: join(dir, 'state.db') });
createAuditKey(join(dir, 'keys'));
const audit = openAuditLog(store, { keyDir: join(dir, 'keys'), actor: 'bench' });

/** A deploy-step entry; like a real log, the release changes every few hundred entries. */
function event(i) {
  return {
    action: 'deploy.step',
    subject: {
      service: `svc-${i % 17}`,
      env: i % 3 ? 'staging' : 'prod',
      release: `rel-${Math.floor(i / 500)
        .toString(16)
        .padStart(12, '0')}`,
    },
    digestAfter: `sha256:${(i % 65536).toString(16).padStart(64, '0')}`,
    reason: 'canary step 2 of 3',
    detail: { weight: i % 100, step: i % 3 },
  };
}

/** Appends through `record` until `size`, `batch` records per transaction; wall and CPU time. */
function appendUntil(size, deadline, batch = BATCH) {
  const start = performance.now();
  const cpu = process.cpuUsage();
  const from = audit.size();
  let next = from;
  while (next < size && performance.now() < deadline) {
    const n = Math.min(batch, size - next);
    store.transaction(() => {
      for (let k = 0; k < n; k++) audit.record(event(next++));
    });
  }
  const ms = performance.now() - start;
  const cpuMs = cpuMsSince(cpu);
  const appended = next - from;
  return { appended, batch, ms, cpuMs, perSec: (appended / ms) * 1000, perCpuSec: (appended / cpuMs) * 1000 };
}

function cpuMsSince(start) {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function timed(fn) {
  const start = performance.now();
  const cpu = process.cpuUsage();
  const value = fn();
  return { value, ms: performance.now() - start, cpuMs: cpuMsSince(cpu) };
}

function measureProof(size) {
  let t = performance.now();
  const index = Math.floor(size / 3);
  const proof = audit.prove(index);
  const generateMs = performance.now() - t;
  const hashes = proof.hashes.map((h) => Buffer.from(h, 'hex'));
  const leaf = Buffer.from(proof.entry.leafHash, 'hex');
  const root = Buffer.from(proof.checkpoint.rootHash, 'hex');
  t = performance.now();
  for (let i = 0; i < VERIFY_REPEAT; i++)
    if (!verifyInclusion(index, proof.checkpoint.size, leaf, hashes, root)) throw new Error('proof failed');
  const merkleVerifyMs = (performance.now() - t) / VERIFY_REPEAT;
  const key = audit.publicKey();
  t = performance.now();
  for (let i = 0; i < VERIFY_REPEAT / 10; i++)
    if (!verifyTlogProof(proof.text, key).ok) throw new Error('tlog proof failed');
  const fileVerifyMs = (performance.now() - t) / (VERIFY_REPEAT / 10);
  return {
    index,
    hashes: hashes.length,
    hashBytes: hashes.length * 32,
    tlogProofBytes: Buffer.byteLength(proof.text),
    generateMs,
    merkleVerifyMs,
    fileVerifyMs,
  };
}

const results = [];
const deadline = performance.now() + APPEND_BUDGET_MS;
try {
  for (const size of SIZES) {
    // Fill quickly (large transactions) up to the measuring window, then measure appends at this size.
    const window = Math.min(MEASURE_WINDOW, size);
    const fill = appendUntil(size - window, deadline, FILL_BATCH);
    const append = appendUntil(size, deadline);
    audit.close();
    const verify = timed(() => audit.verify());
    if (!verify.value.ok)
      throw new Error(`verification failed: ${JSON.stringify(verify.value.findings.slice(0, 3))}`);
    results.push({
      size: audit.size(),
      reachedTarget: audit.size() === size,
      fill: fill.appended ? fill : undefined,
      append,
      verifyMs: verify.ms,
      verifyCpuMs: verify.cpuMs,
      proof: measureProof(audit.size()),
    });
  }
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

const last = results.at(-1);
const appendsPerSec = Math.min(...results.map((r) => r.append.perSec));
const appendsPerCpuSec = Math.min(...results.map((r) => r.append.perCpuSec));
const summary = {
  benchmark: 'audit',
  node: process.version,
  cpus: cpus().length,
  loadAverageAtStart: LOAD_AT_START,
  loadAverageAtEnd: loadavg().map((l) => Number(l.toFixed(2))),
  durability: `WAL, synchronous=FULL (fsync per commit), ${BATCH} records per transaction`,
  note: 'wall-clock figures depend on what else runs on the machine; cpuMs is this process alone',
  targets: TARGETS,
  results,
  pass: {
    appends: appendsPerSec >= TARGETS.appendsPerSec,
    verify1M: last.size >= 1_000_000 ? last.verifyMs < TARGETS.verify1MMs : null,
    verify1MCpu: last.size >= 1_000_000 ? last.verifyCpuMs < TARGETS.verify1MMs : null,
    proofVerify: results.every((r) => r.proof.merkleVerifyMs < TARGETS.proofVerifyMs),
  },
};
console.log(JSON.stringify(summary, null, 2));
const secs = (ms) => (ms / 1000).toFixed(2);
console.log(
  `audit: ${Math.round(appendsPerSec)} durable appends/s wall (${Math.round(appendsPerCpuSec)}/CPU-s; target ${TARGETS.appendsPerSec}); ` +
    results
      .map((r) => `verify ${r.size} in ${secs(r.verifyMs)}s wall/${secs(r.verifyCpuMs)}s CPU`)
      .join(', ') +
    ` (target 1M < ${TARGETS.verify1MMs / 1000}s); inclusion proof ${last.proof.hashes} hashes/${last.proof.hashBytes} B, ` +
    `verified in ${(last.proof.merkleVerifyMs * 1000).toFixed(1)}µs (${(last.proof.fileVerifyMs * 1000).toFixed(0)}µs with the checkpoint signature)`,
);
