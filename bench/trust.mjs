#!/usr/bin/env node
// Trust benchmark (run `npm run build` first): DSSE signatures and verifications per second for
// ECDSA P-256 and Ed25519 (each over a 2 KiB in-toto statement), offline Sigstore bundle
// verifications per second, and the end-to-end time to verify examples/hello (blobs, signature,
// attestations, SBOM recomputed from the layers, provenance), best and median of VERIFY_RUNS.
// Prints one JSON document, then a one-line summary. Every loop is bounded by LOOP_MS.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage, openImageStore } from '../dist/artifact/index.js';
import { loadSpec } from '../dist/spec/index.js';
import {
  attestImage,
  envelopeToBundle,
  generateKeyPair,
  INTOTO_PAYLOAD_TYPE,
  parsePrivateKey,
  parsePublicKey,
  signEnvelope,
  verifyBundle,
  verifyEnvelope,
  verifyImage,
} from '../dist/trust/index.js';

const LOOP_MS = Number(process.env.TRUST_BENCH_LOOP_MS ?? 1500);
const VERIFY_RUNS = Number(process.env.TRUST_BENCH_VERIFY_RUNS ?? 3);
const REPO = fileURLToPath(new URL('../', import.meta.url));
const LOAD_AT_START = loadavg().map((l) => Number(l.toFixed(2)));
const PAYLOAD = Buffer.from(
  JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', pad: 'x'.repeat(2000) }),
);

/** Runs `fn` until LOOP_MS has passed; returns operations per second. */
function perSecond(fn) {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < LOOP_MS) {
    fn();
    n++;
  }
  return Math.round((n * 1000) / (performance.now() - start));
}

function keyBench(type) {
  const pair = generateKeyPair(type);
  const signing = parsePrivateKey(pair.privateKeyPem, 'bench');
  const pub = parsePublicKey(pair.publicKeyPem, 'bench');
  const envelope = signEnvelope(INTOTO_PAYLOAD_TYPE, PAYLOAD, signing);
  const bundle = JSON.parse(JSON.stringify(envelopeToBundle(envelope)));
  return {
    signaturesPerSec: perSecond(() => signEnvelope(INTOTO_PAYLOAD_TYPE, PAYLOAD, signing)),
    verificationsPerSec: perSecond(() => {
      if (!verifyEnvelope(envelope, [pub])) throw new Error('verification failed');
    }),
    bundleVerificationsPerSec: perSecond(() => verifyBundle(bundle, [pub])),
  };
}

async function helloVerify() {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-trust-bench-'));
  try {
    cpSync(join(REPO, 'examples/hello'), dir, { recursive: true });
    const store = openImageStore(join(dir, '.cairn/store'));
    const loaded = loadSpec(join(dir, 'cairn.yaml'));
    const built = await buildImage(loaded, 'hello', { store });
    const pair = generateKeyPair('ecdsa-p256');
    const key = parsePrivateKey(pair.privateKeyPem, 'bench');
    const attestStart = performance.now();
    await attestImage(store, built.descriptor, { key, reference: 'hello', spec: loaded, service: 'hello' });
    const attestMs = Math.round(performance.now() - attestStart);
    const trusted = [parsePublicKey(pair.publicKeyPem, 'bench')];
    const runs = [];
    for (let i = 0; i < VERIFY_RUNS; i++) {
      const start = performance.now();
      const report = await verifyImage(store, built.digest, trusted);
      runs.push(Math.round(performance.now() - start));
      if (!report.verified) throw new Error(`hello did not verify: ${JSON.stringify(report.checks)}`);
    }
    const sorted = [...runs].sort((a, b) => a - b);
    const layerBytes = built.layers.reduce((s, l) => s + l.size, 0);
    return {
      attestMs,
      verifyMs: { best: sorted[0], median: sorted[Math.floor(sorted.length / 2)], runs },
      layerBytes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const result = {
  node: process.version,
  cpus: cpus().length,
  loadAverageAtStart: LOAD_AT_START,
  loopMs: LOOP_MS,
  ecdsaP256: keyBench('ecdsa-p256'),
  ed25519: keyBench('ed25519'),
  hello: await helloVerify(),
};
console.log(JSON.stringify(result, null, 2));
const e = result.ecdsaP256;
const d = result.ed25519;
console.log(
  `trust: ecdsa-p256 ${e.signaturesPerSec} sign/s ${e.verificationsPerSec} verify/s (${e.bundleVerificationsPerSec} bundle/s); ` +
    `ed25519 ${d.signaturesPerSec} sign/s ${d.verificationsPerSec} verify/s (${d.bundleVerificationsPerSec} bundle/s); ` +
    `examples/hello verify ${result.hello.verifyMs.median} ms median (attest ${result.hello.attestMs} ms), load ${LOAD_AT_START[0]}`,
);
