/**
 * Lists the processes inside a runc container: `runc ps` with cairn's runc state root gives their
 * host pids; /proc gives each one's parent and command line. Only runc can list a container's
 * processes this way; the other drivers return undefined (processes not checked).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { DriverError } from '../lib/index.js';
import type { ProcessInfo } from './types.js';

/** What `runc state` says about a container: its init's host pid and its bundle folder. */
export interface RuncStateView {
  pid: number;
  bundle: string;
}

/** Runs `runc --root <root> state <id>`. */
export function runcState(root: string, id: string, binary = 'runc'): Promise<RuncStateView> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['--root', root, 'state', id], (error, stdout, stderr) => {
      if (error) {
        const detail = stderr.trim().split('\n').at(-1) || error.message;
        return reject(new DriverError(`reading the state of ${id}: runc state failed: ${detail}`));
      }
      const { pid, bundle } = JSON.parse(stdout) as RuncStateView;
      resolve({ pid, bundle });
    });
  });
}

/** Runs `runc --root <root> ps --format json <id>`: the container's host pids. */
export function runcPids(root: string, id: string, binary = 'runc'): Promise<number[]> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['--root', root, 'ps', '--format', 'json', id], (error, stdout, stderr) => {
      if (error) {
        const detail = stderr.trim().split('\n').at(-1) || error.message;
        return reject(new DriverError(`listing the processes of ${id}: runc ps failed: ${detail}`));
      }
      resolve((JSON.parse(stdout || '[]') as number[] | null) ?? []);
    });
  });
}

/** The parent and argv of each pid; a pid that exited meanwhile is left out. */
export async function describeProcesses(pids: number[]): Promise<ProcessInfo[]> {
  const found = await Promise.all(pids.map(describeProcess));
  return found.filter((p): p is ProcessInfo => p !== undefined);
}

async function describeProcess(pid: number): Promise<ProcessInfo | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    // The command name in stat may hold spaces and parentheses: fields resume after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return { pid, ppid, args: cmdline.split('\0').filter((a) => a !== '') };
  } catch {
    return undefined;
  }
}
