/**
 * The policy worker thread (started by `PolicyWorker`): compiles the policy files it is sent,
 * cached by content digest, keeps SBOM components by digest, and evaluates one batch at a time —
 * publishing the index of the policy it is in, so the main thread can name the one that missed
 * the deadline before it terminates this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type CompiledPolicy, compilePolicyFile } from './compile.js';
import { evaluatePolicies } from './evaluate.js';
import type { PolicyComponent } from './input.js';
import type { BatchMessage, BatchReply } from './policy-worker.js';

const COMPILED_FILES = 64;
const SBOMS = 8;

const files = new Map<string, CompiledPolicy[]>();
const sboms = new Map<string, PolicyComponent[]>();

function remember<V>(map: Map<string, V>, key: string, value: V, entries: number): void {
  if (map.size >= entries) map.delete(map.keys().next().value!);
  map.set(key, value);
}

function evaluate(m: BatchMessage, progress: Int32Array): BatchReply {
  for (const f of m.files) {
    if (f.text !== undefined && !files.has(f.digest))
      remember(files, f.digest, compilePolicyFile(f.text, f.file).policies, COMPILED_FILES);
  }
  if (m.components) remember(sboms, m.sbomDigest, m.components, SBOMS);
  const components = sboms.get(m.sbomDigest);
  const chosen = m.policies.map(({ digest, name }) =>
    files.get(digest)?.find((p) => p.definition.name === name),
  );
  // Evicted (or never sent): the main thread sends everything again.
  if (!components || chosen.some((p) => p === undefined)) return { id: m.id, missing: true };
  const input = { ...m.input, sbom: { ...m.input.sbom, components } };
  const evaluation = evaluatePolicies(chosen as CompiledPolicy[], input, {
    sbomDigest: m.sbomDigest,
    onPolicy: (index) => Atomics.store(progress, 0, index),
  });
  return { id: m.id, evaluation };
}

if (parentPort) {
  const port = parentPort;
  const progress = new Int32Array((workerData as { progress: SharedArrayBuffer }).progress);
  port.on('message', (m: BatchMessage) => {
    let reply: BatchReply;
    try {
      reply = evaluate(m, progress);
    } catch (error) {
      reply = { id: m.id, error: (error as Error).message };
    }
    port.postMessage(reply);
  });
  port.postMessage({ id: 0, ready: true } satisfies BatchReply);
}
