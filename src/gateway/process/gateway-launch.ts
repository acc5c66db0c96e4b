/**
 * Starting and stopping a gateway process: spawned detached (its own session and process group,
 * so neither a SIGKILL of the control plane nor a Ctrl-C in its terminal reaches it), with its
 * output appended to the environment's gateway log and an IPC channel used only to learn that it
 * listens (or why it could not).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DriverError } from '../../lib/index.js';
import type { GatewayFiles } from './state-file.js';

const START_TIMEOUT_MS = 20_000;
const POLL_MS = 20;

/** The entry point next to this file (`dist/gateway/process/gateway-main.js` once built). */
export const GATEWAY_MAIN = fileURLToPath(new URL('./gateway-main.js', import.meta.url));

type Outcome =
  | { ready: true; address: string; pid: number }
  | { failed: true; code?: string; message: string; hint?: string };

/** Spawns the gateway on `files.state`; resolves with its pid and address once it listens. */
export async function launchGateway(
  files: GatewayFiles,
  env: string,
  main = GATEWAY_MAIN,
): Promise<{ pid: number; address: string }> {
  const out = openSync(files.log, 'a', 0o600);
  const child = spawn(
    process.execPath,
    [main, '--state', files.state, '--socket', files.socket, '--pid', files.pid],
    { detached: true, stdio: ['ignore', out, out, 'ipc'] },
  );
  closeSync(out);
  const outcome = await new Promise<Outcome>((resolve) => {
    const timer = setTimeout(
      () => resolve({ failed: true, message: `it did not listen within ${START_TIMEOUT_MS / 1000} s` }),
      START_TIMEOUT_MS,
    );
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as Outcome);
    });
    child.once('error', (e) => resolve({ failed: true, message: e.message }));
    child.once('exit', (code, signal) => resolve({ failed: true, message: `it exited (${code ?? signal})` }));
  });
  child.removeAllListeners();
  if ('failed' in outcome) {
    child.kill('SIGKILL');
    throw startError(outcome, env, files.log);
  }
  if (child.connected) child.disconnect();
  child.unref();
  return { pid: outcome.pid, address: outcome.address };
}

/** A bind failure keeps its errno (`listenError` names the holder); anything else says where to look. */
function startError(outcome: Extract<Outcome, { failed: true }>, env: string, log: string): Error {
  if (outcome.code?.startsWith('E') || /cannot bind socket/.test(outcome.message))
    return Object.assign(new Error(outcome.message), { code: outcome.code });
  return new DriverError(`starting the ${env} gateway process: ${outcome.message}`, {
    hint: outcome.hint ?? `read ${log}`,
  });
}

/** Whether `pid` runs (a zombie no longer does: a parent that never reaps it must not fool us). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Waits for `pid` to end, up to `timeoutMs`, then SIGKILLs it; resolves once it is gone. */
export async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, POLL_MS));
}
