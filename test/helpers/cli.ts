/** Runs the built cairn CLI (dist/) as a user would, capturing exit code and output. */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CAIRN_BIN = fileURLToPath(new URL('../../bin/cairn.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cairn(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): CliResult {
  const result = spawnSync(process.execPath, [CAIRN_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, CAIRN_HOME: undefined, ...options.env },
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the CLI without blocking this worker: a long spawnSync starves vitest's RPC and any load generator. */
export function cairnAsync(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string | Buffer } = {},
): Promise<CliResult> {
  return cairnFollow(args, options).done;
}

/**
 * Starts the CLI and follows it while it runs (`cairn logs -f`): its output so far, its result once
 * it ends, and Ctrl-C. Killed after `timeoutMs` (default 300 s).
 */
export function cairnFollow(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string | Buffer } = {},
): { out: () => string; done: Promise<CliResult>; interrupt: () => Promise<CliResult> } {
  const child = spawn(process.execPath, [CAIRN_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, CAIRN_HOME: undefined, ...options.env },
  });
  let stdout = '';
  let stderr = '';
  // A child that exits before reading its input (killed, or one that never reads) closes the
  // pipe: EPIPE here is not the test's failure; the exit code and stderr say what happened.
  child.stdin.on('error', () => {});
  child.stdin.end(options.input ?? '');
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    }),
  );
  return {
    out: () => stdout,
    done,
    interrupt: () => {
      child.kill('SIGINT');
      return done;
    },
  };
}
