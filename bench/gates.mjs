#!/usr/bin/env node
// Release gates benchmark (run `npm run build` first): CEL policy evaluation per release (20
// policies over one input with a 2,000-component SBOM, with the package bans as walks of
// sbom.components and as lookups in sbom.packages; in this thread and through the policy worker
// the gate uses), OSV import speed of a generated database of
// 200,000 advisories (one zip, as osv.dev publishes), and the scan of a 2,000-component SBOM
// against it — time and peak RSS, measured in a fresh process so the import's memory is not
// counted. Prints one JSON document, then a one-line summary. Bounded: fixed sizes, no loops on time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { compilePolicyFile, componentsDigest, evaluatePolicies, PolicyWorker } from '../dist/policy/index.js';
import { osvRecordsAt, scanPurls, VulnDb } from '../dist/vuln/index.js';

const ADVISORIES = Number(process.env.GATES_BENCH_ADVISORIES ?? 200_000);
const COMPONENTS = Number(process.env.GATES_BENCH_COMPONENTS ?? 2_000);
const POLICIES = 20;
const EVALUATIONS = 2_000;
const TARGETS = { policyEvalMs: 1, scanMs: 1_000, scanRssMb: 200 };

const npmName = (i) => `pkg-${i.toString(36)}`;
const debName = (i) => `lib${i.toString(36)}`;
const purls = Array.from({ length: COMPONENTS }, (_, i) =>
  i % 4 === 0
    ? `pkg:deb/debian/${debName(i)}@1.${i % 7}-${i % 3}%2Bdeb12u${i % 20}?arch=amd64&distro=debian-12`
    : `pkg:npm/${npmName(i)}@${i % 5}.${i % 11}.${i % 13}`,
);

/** Peak RSS of this process image in MB: VmHWM (getrusage's maxRSS would include the parent's, kept across exec). */
const peakRssMb = () =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;

if (process.argv[2] === '--import') {
  // The child: import the zips into a new database, report records, time and peak RSS.
  const started = performance.now();
  const db = VulnDb.open(process.argv[3], { create: true });
  const imported = { records: 0, packages: 0 };
  for (const file of process.argv.slice(4)) {
    const r = db.import(osvRecordsAt(file));
    imported.records += r.records;
    imported.packages += r.packages;
  }
  db.close();
  process.stdout.write(
    JSON.stringify({ ...imported, ms: performance.now() - started, peakRssMb: peakRssMb() }),
  );
  process.exit(0);
}

if (process.argv[2] === '--scan') {
  // The child: open the database, scan, report time and peak RSS.
  const before = process.memoryUsage().rss / 2 ** 20;
  const db = VulnDb.open(process.argv[3]);
  const meta = db.meta();
  const peakOpenMb = peakRssMb();
  const started = performance.now();
  const report = scanPurls(db, purls, meta.asOf);
  const ms = performance.now() - started;
  const peakScanMb = peakRssMb();
  const again = performance.now();
  scanPurls(db, purls, db.meta().asOf);
  const warmMs = performance.now() - again;
  process.stdout.write(
    JSON.stringify({
      ms,
      warmMs,
      findings: report.findings.length,
      rssBeforeMb: before,
      peakOpenMb,
      peakScanMb,
      rssAfterMb: process.memoryUsage().rss / 2 ** 20,
      peakRssMb: peakRssMb(),
    }),
  );
  db.close();
  process.exit(0);
}

const LOAD_AT_START = loadavg().map((l) => Number(l.toFixed(2)));
const dir = mkdtempSync(join(tmpdir(), 'cairn-gates-bench-'));

// 1. Policies: 20, of the kinds a team writes, four of them walking the SBOM.
const kinds = [
  (i) => `!image.config.user.startsWith("0") && image.config.user != "" && "${i}" != ""`,
  () => 'provenance.present && !provenance.dirty && provenance.builder.startsWith("https://")',
  (i) => `!sbom.components.exists(c, c.purl.startsWith("pkg:npm/event-stream-${i}@"))`,
  () => 'signatures.exists(s, s.trusted) || environment != "prod"',
  () => '!scan.findings.exists(f, !f.accepted && f.score >= 9.0)',
];
const policyText = `policies:\n${Array.from(
  { length: POLICIES },
  (_, i) =>
    `  - name: p${i}\n    variables:\n      - { name: prod, expression: 'environment == "prod"' }\n    validations:\n      - expression: '${kinds[i % kinds.length](i)}'\n        message: rule ${i}\n`,
).join('')}`;
const { policies, diagnostics } = compilePolicyFile(policyText, 'bench.yaml');
if (diagnostics.length > 0) throw new Error(JSON.stringify(diagnostics));
const input = {
  service: 'hello',
  environment: 'prod',
  stage: 'promote',
  actor: 'api',
  image: {
    digest: `sha256:${'a'.repeat(64)}`,
    created: '2026-01-01T00:00:00Z',
    config: {
      user: '10001:10001',
      entrypoint: ['node', 'server.js'],
      cmd: [],
      env: ['A=b'],
      workingDir: '/app',
      labels: {},
      exposedPorts: [],
    },
  },
  release: { id: 'rel-000000000000', run: { port: 8080, replicas: 2 } },
  sbom: {
    present: true,
    components: purls.map((purl, i) => ({ name: `c${i}`, version: '1.0.0', purl, type: 'library' })),
  },
  provenance: {
    present: true,
    builder: 'https://cairn.dev/builder/v1',
    buildType: 'x',
    sourceCommit: 'f'.repeat(40),
    dirty: false,
  },
  signatures: [{ keyId: 'aec5059967a2', trusted: true }],
  scan: { present: true, dbAsOf: '2026-12-01T00:00:00Z', maxSeverity: 'high', findings: [] },
};
// The gate hashes an image's SBOM components once (per image) and evaluates each door with it.
const sbomDigest = componentsDigest(input.sbom.components);
const measure = (list, options, n) => {
  for (let i = 0; i < 50; i++) evaluatePolicies(list, input, options); // warm up
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = evaluatePolicies(list, input, options);
    times.push(performance.now() - t);
    if (r.violations.length > 0) throw new Error(JSON.stringify(r.violations[0]));
  }
  times.sort((a, b) => a - b);
  return (p) => Number(times[Math.floor((times.length - 1) * p)].toFixed(3));
};
const pct = measure(policies, { sbomDigest }, EVALUATIONS);
const cold = measure(policies, {}, 200);
const walking = policies.filter((p) => p.validations[0].expression.startsWith('!sbom'));
const flat = measure(
  policies.filter((p) => !walking.includes(p)),
  { sbomDigest },
  EVALUATIONS,
);
const walk = measure(walking.slice(0, 1), { sbomDigest }, EVALUATIONS);
// The same 20 policies with the package bans written as lookups in sbom.packages (the idiom
// docs/policy.md recommends) instead of walks of sbom.components.
const indexedText = policyText.replace(
  /!sbom\.components\.exists\(c, c\.purl\.startsWith\("(pkg:npm\/event-stream-\d+)@"\)\)/g,
  '!("$1" in sbom.packages)',
);
const indexed = compilePolicyFile(indexedText, 'bench-indexed.yaml');
if (indexed.diagnostics.length > 0) throw new Error(JSON.stringify(indexed.diagnostics));
const lookups = measure(indexed.policies, { sbomDigest }, EVALUATIONS);

// The same 20 policies as the gate runs them: in the policy worker thread, under its deadline
// (what one gate costs the control plane, messaging included; files and SBOM cross once).
const worker = new PolicyWorker();
const fileDigest = 'sha256:bench';
const batch = {
  files: [{ digest: fileDigest, file: 'bench.yaml', text: policyText }],
  policies: policies.map((p) => ({ digest: fileDigest, name: p.definition.name })),
  input,
  sbomDigest,
};
const viaWorker = async (batch, n) => {
  for (let i = 0; i < 50; i++) await worker.evaluate(batch); // warm up (and start the thread)
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await worker.evaluate(batch);
    times.push(performance.now() - t);
    if (!r.evaluation || r.evaluation.violations.length > 0) throw new Error(JSON.stringify(r));
  }
  times.sort((a, b) => a - b);
  return (p) => Number(times[Math.floor((times.length - 1) * p)].toFixed(3));
};
const inWorker = await viaWorker(batch, EVALUATIONS);
const indexedDigest = 'sha256:bench-indexed';
const inWorkerLookups = await viaWorker(
  {
    ...batch,
    files: [{ digest: indexedDigest, file: 'bench-indexed.yaml', text: indexedText }],
    policies: policies.map((p) => ({ digest: indexedDigest, name: p.definition.name })),
  },
  EVALUATIONS,
);
await worker.close();

// 2. An OSV zip of ADVISORIES records: half npm, a quarter Debian, on packages the SBOM has and others.
const entries = {};
const enc = new TextEncoder();
for (let i = 0; i < ADVISORIES; i++) {
  const deb = i % 4 === 0;
  const pkgIndex = (i * 7) % (COMPONENTS * 20);
  const record = {
    schema_version: '1.6.0',
    id: `${deb ? 'DSA' : 'GHSA'}-bench-${i}`,
    modified: '2026-11-01T00:00:00Z',
    aliases: [`CVE-2026-${i}`],
    summary: `generated advisory ${i}`,
    ...(deb
      ? {}
      : { severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] }),
    affected: [
      {
        package: deb
          ? { ecosystem: 'Debian:12', name: debName(pkgIndex) }
          : { ecosystem: 'npm', name: npmName(pkgIndex) },
        ranges: [
          {
            type: deb ? 'ECOSYSTEM' : 'SEMVER',
            events: [{ introduced: '0' }, { fixed: deb ? '1.3-1+deb12u9' : `${i % 5}.${(i % 11) + 1}.0` }],
          },
        ],
      },
    ],
  };
  entries[`${record.id}.json`] = enc.encode(JSON.stringify(record));
}
// fflate writes no ZIP64, so at most 65,535 entries per zip: the database comes in parts, as OSV's
// per-ecosystem zips do (reading ZIP64 zips, as osv.dev's larger ones are, works).
const PART = 50_000;
const names = Object.keys(entries);
const zips = [];
for (let at = 0; at < names.length; at += PART) {
  const part = Object.fromEntries(names.slice(at, at + PART).map((n) => [n, entries[n]]));
  const file = join(dir, `part-${zips.length}.zip`);
  writeFileSync(file, zipSync(part, { level: 1 }));
  zips.push(file);
}
const zipMb = Number((zips.reduce((n, f) => n + statSync(f).size, 0) / 2 ** 20).toFixed(1));
const dbFile = join(dir, 'vuln.db');
// The import, in a fresh process too: its peak RSS is the import's alone.
const imported = JSON.parse(
  execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--import', dbFile, ...zips], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  }),
);
const importMs = imported.ms;

// 3. The scan, in a fresh process.
const scan = JSON.parse(
  execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--scan', dbFile], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  }),
);
rmSync(dir, { recursive: true, force: true });

const result = {
  machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAtStart: LOAD_AT_START },
  policy: {
    policies: POLICIES,
    walkingTheSbom: walking.length,
    components: COMPONENTS,
    evaluations: EVALUATIONS,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    firstDoorOfAnImageP50Ms: cold(0.5),
    withoutSbomWalksP50Ms: flat(0.5),
    oneSbomWalkP50Ms: walk(0.5),
    withPackageLookupsP50Ms: lookups(0.5),
    withPackageLookupsP99Ms: lookups(0.99),
    inWorkerP50Ms: inWorker(0.5),
    inWorkerP99Ms: inWorker(0.99),
    inWorkerWithPackageLookupsP50Ms: inWorkerLookups(0.5),
    targetMs: TARGETS.policyEvalMs,
  },
  import: {
    advisories: imported.records,
    packages: imported.packages,
    ms: Math.round(importMs),
    recordsPerSec: Math.round(imported.records / (importMs / 1000)),
    peakRssMb: Math.round(imported.peakRssMb),
    zipMb,
  },
  scan: {
    components: COMPONENTS,
    advisories: ADVISORIES,
    findings: scan.findings,
    ms: Math.round(scan.ms),
    warmMs: Math.round(scan.warmMs),
    peakRssMb: Math.round(scan.peakRssMb),
    rssBeforeScanMb: Math.round(scan.rssBeforeMb),
    peakAfterOpenMb: Math.round(scan.peakOpenMb),
    peakAfterFirstScanMb: Math.round(scan.peakScanMb),
    rssAfterScanMb: Math.round(scan.rssAfterMb),
    targetMs: TARGETS.scanMs,
    targetRssMb: TARGETS.scanRssMb,
  },
};
console.log(JSON.stringify(result, null, 2));
const ok = (v, t) => (v <= t ? 'ok' : 'MISSED');
console.log(
  `gates: ${POLICIES} policies (${walking.length} walk the ${COMPONENTS}-component SBOM) p50 ${result.policy.p50Ms} ms (${ok(result.policy.p50Ms, TARGETS.policyEvalMs)} < ${TARGETS.policyEvalMs} ms), through the policy worker ${result.policy.inWorkerP50Ms} ms, with the bans as sbom.packages lookups ${result.policy.withPackageLookupsP50Ms} ms (${ok(result.policy.withPackageLookupsP50Ms, TARGETS.policyEvalMs)}), through the worker ${result.policy.inWorkerWithPackageLookupsP50Ms} ms (${ok(result.policy.inWorkerWithPackageLookupsP50Ms, TARGETS.policyEvalMs)}); import ${result.import.advisories} advisories in ${(importMs / 1000).toFixed(1)} s (${result.import.recordsPerSec}/s, peak RSS ${result.import.peakRssMb} MB); scan ${COMPONENTS} components in ${result.scan.ms} ms (${ok(result.scan.ms, TARGETS.scanMs)} < ${TARGETS.scanMs}), peak RSS ${result.scan.peakRssMb} MB (${ok(result.scan.peakRssMb, TARGETS.scanRssMb)} < ${TARGETS.scanRssMb}), ${scan.findings} findings`,
);
