/** Runs the `runc` binary with cairn's private state root and turns its failures into DriverErrors. */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DriverError } from '../../lib/index.js';

export interface RuncState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  created: string;
  annotations?: Record<string, string>;
}

/** Where a launched container's bundle, pid file, output and runc's own log are. */
export interface LaunchFiles {
  bundleDir: string;
  pidFile: string;
  /** The container's stdout and stderr. */
  logFd: number;
  runcLog: string;
}

export class RuncCli {
  constructor(
    readonly root: string,
    readonly binary = 'runc',
  ) {}

  /** Runs runc and returns stdout; rejects with runc's own message. */
  exec(args: string[], action: string): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        this.binary,
        ['--root', this.root, ...args],
        { maxBuffer: 16 << 20 },
        (error, stdout, stderr) => {
          if (!error) return resolve(stdout);
          const detail = runcMessage(stderr) || error.message;
          reject(new DriverError(`${action}: runc ${args[0]} failed: ${detail}`, { cause: error }));
        },
      );
    });
  }

  /**
   * `runc run --detach`, or `runc create` (the container then waits for `runc start`, its namespaces
   * already there): the container's stdout and stderr are `logFd`; runc exits once it is launched.
   * runc's own errors go to `runcLog` (JSON lines), because any pipe handed to runc would be
   * inherited by the container and never close.
   */
  launch(verb: 'run' | 'create', id: string, files: LaunchFiles): Promise<void> {
    const { bundleDir, pidFile, logFd, runcLog } = files;
    const args = ['--root', this.root, '--log', runcLog, '--log-format', 'json'];
    args.push(
      verb,
      ...(verb === 'run' ? ['--detach'] : []),
      '--pid-file',
      pidFile,
      '--bundle',
      bundleDir,
      id,
    );
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, args, { stdio: ['ignore', logFd, logFd] });
      child.once('error', (e) =>
        reject(new DriverError(`starting ${id}: cannot run runc: ${e.message}`, { cause: e })),
      );
      child.once('exit', (code) => {
        if (code === 0) return resolve();
        const detail = jsonLogError(runcLog);
        reject(new DriverError(`starting ${id}: runc ${verb} failed: ${detail || `exit code ${code}`}`));
      });
    });
  }

  async state(id: string): Promise<RuncState | undefined> {
    try {
      return JSON.parse(await this.exec(['state', id], `inspecting ${id}`)) as RuncState;
    } catch (error) {
      if (error instanceof DriverError && /does not exist|not exist/.test(error.message)) return undefined;
      throw error;
    }
  }

  async list(): Promise<RuncState[]> {
    const out = await this.exec(['list', '--format', 'json'], 'listing containers');
    return (JSON.parse(out || 'null') as RuncState[] | null) ?? [];
  }
}

/** The `msg="…"` part of runc's logfmt error output, else its last line. */
export function runcMessage(stderr: string): string {
  const msgs = [...stderr.matchAll(/msg="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\"/g, '"'));
  if (msgs.length > 0) return msgs.at(-1)!;
  return stderr.trim().split('\n').at(-1) ?? '';
}

/** The last error message in runc's JSON log file. */
function jsonLogError(file: string): string {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  const lines = text.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' && entry.msg) return entry.msg;
    } catch {
      // Not JSON: ignore.
    }
  }
  return '';
}
