/**
 * The files of one environment's gateway process in the workspace's `run/` folder (0700): its
 * last applied state (`gateway-ENV.json`, 0600), its pid file and its control socket.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayStateFile } from './protocol.js';

/** Where one environment's gateway keeps its files. */
export interface GatewayFiles {
  state: string;
  pid: string;
  socket: string;
  log: string;
}

/** A unix socket path longer than this does not fit `sockaddr_un`. */
const MAX_SOCKET_PATH = 100;

/** The files of `env`'s gateway under `runDir` (created 0700); the socket goes to a short path if needed. */
export function gatewayFiles(runDir: string, logsDir: string, env: string): GatewayFiles {
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const socket = join(runDir, `gateway-${env}.sock`);
  if (socket.length > MAX_SOCKET_PATH)
    throw new Error(`gateway socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes`);
  return {
    state: join(runDir, `gateway-${env}.json`),
    pid: join(runDir, `gateway-${env}.pid`),
    socket,
    log: join(logsDir, `gateway-${env}.log`),
  };
}

/** Replaces the file whole (a crash leaves the old or the new one, never half of one). */
export function writeStateFile(file: string, state: GatewayStateFile): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export function readStateFile(file: string): GatewayStateFile | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as GatewayStateFile;
  } catch {
    return undefined;
  }
}

/** The pid file: which process holds the gateway, and where it listens. */
export interface PidFile {
  pid: number;
  address: string;
  protocol: number;
}

export function readPidFile(file: string): PidFile | undefined {
  try {
    const p = JSON.parse(readFileSync(file, 'utf8')) as PidFile;
    return Number.isInteger(p.pid) && p.pid > 1 ? p : undefined;
  } catch {
    return undefined;
  }
}

export function writePidFile(file: string, pid: PidFile): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(pid)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Whether `pid` runs the gateway entry point on `stateFile` (so it is this workspace's gateway). */
export function isGatewayProcess(pid: number, stateFile: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.endsWith('gateway-main.js')) && argv.includes(stateFile);
  } catch {
    return false;
  }
}
