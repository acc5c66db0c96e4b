/**
 * Policies evaluated beside the main thread, under a deadline: the control plane's main thread
 * also serves the API (and the gateway), and the cost bound is an estimate — so a policy that
 * runs long must not stall them. One persistent worker thread evaluates one batch (every policy
 * of one gate) at a time; policy files and SBOM components cross once, by digest. A batch that
 * misses the deadline is answered "timed out, naming the policy"; the worker is terminated and a
 * new one starts for the next batch.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type CompiledPolicy, compilePolicyFile } from './compile.js';
import { evaluatePolicies, type PolicyEvaluation } from './evaluate.js';
import type { PolicyComponent, PolicyInput } from './input.js';

/** How long one batch (every policy of one gate) may run. */
export const POLICY_DEADLINE_MS = 1_000;
/** A worker that does not load within this is reported as failed (not counted in the deadline). */
const STARTUP_TIMEOUT_MS = 30_000;
/** Heap of the worker: a policy that builds huge lists kills only the worker. */
const WORKER_HEAP_MB = 256;

/** One gate's policies: the files they come from (by content digest) and which policies, in order. */
export interface PolicyBatch {
  files: Array<{ digest: string; file: string; text: string }>;
  policies: Array<{ digest: string; name: string }>;
  input: PolicyInput;
  sbomDigest: string;
}

export type PolicyBatchResult =
  | { evaluation: PolicyEvaluation }
  | { timedOut: { policy: string; deadlineMs: number } }
  | { failed: string };

/** What crosses to the worker: texts and components only when it has not seen their digest. */
export interface BatchMessage {
  id: number;
  files: Array<{ digest: string; file: string; text?: string }>;
  policies: Array<{ digest: string; name: string }>;
  input: PolicyInput;
  sbomDigest: string;
  components?: PolicyComponent[];
}

export interface BatchReply {
  id: number;
  ready?: true;
  evaluation?: PolicyEvaluation;
  missing?: true;
  error?: string;
}

/** The built thread; from TypeScript sources (tests), the one `npm run build` wrote, if any. */
function threadFile(): string | undefined {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.ts')) return fileURLToPath(new URL('./policy-thread.js', import.meta.url));
  const built = fileURLToPath(new URL('../../dist/policy/policy-thread.js', import.meta.url));
  return existsSync(built) ? built : undefined;
}

/**
 * Evaluates policy batches in a worker thread under a deadline.
 *
 * @example
 * const worker = new PolicyWorker();
 * const result = await worker.evaluate({ files, policies, input, sbomDigest });
 * if ('timedOut' in result) deny(`policy ${result.timedOut.policy} did not finish within 1s`);
 */
export class PolicyWorker {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly progress = new Int32Array(new SharedArrayBuffer(4));
  /** Digests of the files and SBOMs the current worker holds. */
  private known = new Set<string>();
  private tail: Promise<unknown> = Promise.resolve();
  private nextId = 1;

  constructor(readonly deadlineMs = POLICY_DEADLINE_MS) {}

  /** Evaluates one batch; batches queue, and each one's deadline starts when it is sent. */
  evaluate(batch: PolicyBatch): Promise<PolicyBatchResult> {
    const result = this.tail.then(() => this.run(batch));
    this.tail = result.catch(() => {});
    return result;
  }

  /** Stops the worker (a new one starts with the next batch). */
  async close(): Promise<void> {
    await this.tail;
    this.replace();
  }

  private async run(batch: PolicyBatch): Promise<PolicyBatchResult> {
    const file = threadFile();
    // No policy matched: nothing can be slow, so no thread is started for it.
    if (!file || batch.policies.length === 0) return { evaluation: evaluateHere(batch) };
    try {
      await this.start(file);
    } catch (error) {
      this.replace();
      return { failed: `starting the policy worker: ${(error as Error).message}` };
    }
    let reply = await this.send(this.message(batch));
    if ('missing' in reply) {
      this.known.clear();
      reply = await this.send(this.message(batch));
    }
    if ('missing' in reply) return { failed: 'the policy worker lost the policies it was sent' };
    for (const f of batch.files) this.known.add(f.digest);
    this.known.add(`sbom ${batch.sbomDigest}`);
    return reply;
  }

  private start(file: string): Promise<void> {
    if (this.ready) return this.ready;
    const worker = new Worker(file, {
      workerData: { progress: this.progress.buffer },
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    worker.unref();
    this.worker = worker;
    // An error is reported by the batch in flight (`send`); one between batches must not throw.
    worker.on('error', () => {});
    worker.once('exit', () => {
      if (this.worker === worker) this.replace();
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('it did not start in time')), STARTUP_TIMEOUT_MS);
      worker.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    return this.ready;
  }

  private message(batch: PolicyBatch): BatchMessage {
    const sbomKnown = this.known.has(`sbom ${batch.sbomDigest}`);
    return {
      id: this.nextId++,
      files: batch.files.map((f) => (this.known.has(f.digest) ? { digest: f.digest, file: f.file } : f)),
      policies: batch.policies,
      input: { ...batch.input, sbom: { ...batch.input.sbom, components: [] } },
      sbomDigest: batch.sbomDigest,
      ...(sbomKnown ? {} : { components: batch.input.sbom.components }),
    };
  }

  private send(message: BatchMessage): Promise<PolicyBatchResult | { missing: true }> {
    const worker = this.worker!;
    Atomics.store(this.progress, 0, 0);
    return new Promise((resolve) => {
      const done = (result: PolicyBatchResult | { missing: true }, stop = false) => {
        clearTimeout(timer);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        if (stop) this.replace();
        resolve(result);
      };
      const onMessage = (reply: BatchReply) => {
        if (reply.id !== message.id) return;
        if (reply.missing) done({ missing: true });
        else if (reply.evaluation) done({ evaluation: reply.evaluation });
        else done({ failed: reply.error ?? 'no answer' });
      };
      const onError = (error: Error) => done({ failed: error.message }, true);
      const onExit = (code: number) => done({ failed: `the policy worker exited with ${code}` }, true);
      const timer = setTimeout(() => {
        const policy = message.policies[Atomics.load(this.progress, 0)]?.name ?? '?';
        done({ timedOut: { policy, deadlineMs: this.deadlineMs } }, true);
      }, this.deadlineMs);
      worker.on('message', onMessage).once('error', onError).once('exit', onExit);
      worker.postMessage(message);
    });
  }

  private replace(): void {
    void this.worker?.terminate();
    this.worker = undefined;
    this.ready = undefined;
    this.known = new Set();
  }
}

/** Without a built thread (TypeScript sources, no `npm run build`): in this thread, no deadline. */
function evaluateHere(batch: PolicyBatch): PolicyEvaluation {
  const compiled = new Map(batch.files.map((f) => [f.digest, compilePolicyFile(f.text, f.file).policies]));
  const chosen = batch.policies
    .map(({ digest, name }) => compiled.get(digest)?.find((p) => p.definition.name === name))
    .filter((p): p is CompiledPolicy => p !== undefined);
  return evaluatePolicies(chosen, batch.input, { sbomDigest: batch.sbomDigest });
}
