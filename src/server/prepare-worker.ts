/**
 * Unpacking an image into its bundle hashes and decompresses tens of megabytes. Done on the
 * control plane's main thread, that would stall the gateway in the same process; this worker
 * does it beside it. Entry point of a worker thread, and the function that runs one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { openImageStore } from '../artifact/index.js';
import { digestHex } from '../lib/index.js';
import { prepareBundle } from '../runtime/index.js';

interface PrepareJob {
  storeDir: string;
  bundlesDir: string;
  digest: string;
}

/** Unpacks in flight, by bundle folder: instances of one image started together share one. */
const inFlight = new Map<string, Promise<void>>();

/**
 * Makes sure the bundle of `digest` exists, unpacking it in a worker thread when it does not.
 * Callers asking for the same bundle meanwhile wait for that one unpack (without this, deploying
 * 64 services of one image started 128 workers unpacking the same layers at once).
 */
export function prepareOffThread(job: PrepareJob): Promise<void> {
  const dir = join(job.bundlesDir, digestHex(job.digest));
  if (existsSync(dir)) return Promise.resolve();
  let unpack = inFlight.get(dir);
  if (!unpack) {
    unpack = unpackOffThread(job).finally(() => inFlight.delete(dir));
    inFlight.set(dir, unpack);
  }
  return unpack;
}

async function unpackOffThread(job: PrepareJob): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  // Running from TypeScript sources (tests), a worker cannot load this file: unpack in-thread.
  if (self.endsWith('.ts')) {
    await prepareBundle(openImageStore(job.storeDir), job.digest, job.bundlesDir);
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const worker = new Worker(self, { workerData: job });
    worker.once('message', (m: { ok: boolean; error?: { name: string; message: string; hint?: string } }) => {
      if (m.ok) resolve();
      else reject(Object.assign(new Error(m.error?.message), m.error));
    });
    worker.once('error', reject);
    worker.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`bundle worker exited with ${code}`)),
    );
  });
}

if (!isMainThread && parentPort && (workerData as PrepareJob | undefined)?.digest) {
  const job = workerData as PrepareJob;
  prepareBundle(openImageStore(job.storeDir), job.digest, job.bundlesDir).then(
    () => parentPort!.postMessage({ ok: true }),
    (error: NodeJS.ErrnoException & { hint?: string }) =>
      parentPort!.postMessage({
        ok: false,
        // The errno fields travel too: a full disk must still read as one on the other side.
        error: {
          name: error.name,
          message: error.message,
          hint: error.hint,
          code: error.code,
          syscall: error.syscall,
          path: error.path,
        },
      }),
  );
}
