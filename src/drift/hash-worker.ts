/**
 * Entry point of a hash worker thread: runs each `HashJob` it is sent and answers with its id.
 * Loaded by `hash-pool.ts` from the compiled file next to it (dist/drift/hash-worker.js).
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { type HashJob, runHashJob } from './hash-jobs.js';

/** A job as sent to a worker. */
export interface HashRequest {
  id: number;
  job: HashJob;
}

/** A worker's answer: the job's result, or why it failed. */
export type HashResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; message: string };

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', ({ id, job }: HashRequest) => {
    let response: HashResponse;
    try {
      response = { id, ok: true, result: runHashJob(job) };
    } catch (error) {
      response = { id, ok: false, message: (error as Error).message };
    }
    port.postMessage(response);
  });
}
