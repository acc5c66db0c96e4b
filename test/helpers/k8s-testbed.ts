/**
 * The Kubernetes testbed (scripts/k8s-testbed) for e2e tests: run its commands, find its built
 * binaries, and take a snapshot of what it may leave on the host, to check `down`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { BIN, CACHE, KUBECONFIG, missingTestbedFiles, STATE } from '../../scripts/k8s-lib.mjs';

export { BIN, CACHE, K8S_VERSION, STATE } from '../../scripts/k8s-lib.mjs';

const run = promisify(execFile);
export const TESTBED = resolve(import.meta.dirname, '../../scripts/k8s-testbed');
export const BRIDGE = process.env.CAIRN_K8S_BRIDGE ?? 'cairnk8s0';

/** Built, run as root, and no testbed already up (one per machine: fixed ports, bridge, cgroups). */
export function testbedUsable(): { ok: boolean; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root' };
  const missing = missingTestbedFiles();
  if (missing.length)
    return { ok: false, why: `not built (scripts/k8s-testbed build): ${missing.join(', ')}` };
  if (existsSync(STATE)) return { ok: false, why: `a testbed is already up (${STATE})` };
  return { ok: true, why: '' };
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `scripts/k8s-testbed ARGS`; never throws on a non-zero exit. */
export async function testbed(args: string[], timeoutMs = 600_000): Promise<Ran> {
  try {
    const r = await run(TESTBED, args, { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : 1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? String(e),
    };
  }
}

/** kubectl as the testbed's admin. */
export const kubectl = (args: string[], input?: string): string =>
  execFileSync(join(BIN, 'kubectl'), ['--kubeconfig', KUBECONFIG, ...args], {
    encoding: 'utf8',
    input,
    timeout: 180_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });

const sh = (cmd: string, args: string[]): string => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
};

function cgroupDirs(dir: string, depth: number, out: string[]): void {
  if (depth < 0) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    out.push(join(dir, e.name));
    cgroupDirs(join(dir, e.name), depth - 1, out);
  }
}

/** Everything on the host the testbed could leave, as comparable strings. */
export function hostSnapshot(): Set<string> {
  const items: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    } catch {
      continue;
    }
    let cgroup = '';
    try {
      cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {}
    const ours =
      cmd.includes(CACHE) || /^(\S*\/)?(kube|etcd|containerd)/.test(cmd) || cgroup.includes('kubepods');
    if (ours) items.push(`process ${pid} ${cmd}${cgroup.includes('kubepods') ? ' (kubepods)' : ''}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const point = line.split(' ')[4];
    if (point) items.push(`mount ${point}`);
  }
  for (const line of sh('ip', ['-o', 'link', 'show']).split('\n')) {
    const name = line.split(': ')[1]?.split('@')[0];
    if (name) items.push(`link ${name}`);
  }
  for (const [tool, tag] of [
    ['iptables-save', 'ipv4'],
    ['ip6tables-save', 'ipv6'],
  ] as const) {
    for (const line of sh(tool, []).split('\n'))
      if (/^[-:]/.test(line)) items.push(`${tag} ${line.replace(/ \[\d+:\d+\]$/, '')}`);
  }
  for (const line of sh('nft', ['list', 'tables']).split('\n')) if (line) items.push(`nft ${line}`);
  const cgroups: string[] = [];
  for (const sub of readdirSync('/sys/fs/cgroup')) cgroupDirs(join('/sys/fs/cgroup', sub), 3, cgroups);
  for (const dir of cgroups) items.push(`cgroup ${dir}`);
  for (const s of ['vm.overcommit_memory', 'kernel.panic', 'kernel.panic_on_oops', 'net.ipv4.ip_forward'])
    items.push(`sysctl ${s}=${sh('sysctl', ['-n', s]).trim()}`);
  return new Set(items);
}

/** What the testbed makes, by name: its processes, mounts, links, chains, cgroups. */
export const isTestbedThing = (item: string): boolean =>
  item.includes(STATE) ||
  item.includes(CACHE) ||
  /kubepods|KUBE-|CNI-|containerd|\bkube-|\betcd\b|\bveth/.test(item) ||
  item === `link ${BRIDGE}` ||
  item.startsWith('sysctl ');

/** Items of `after` not in `before` that are the testbed's. */
export const leftBehind = (before: Set<string>, after: Set<string>): string[] =>
  [...after].filter((i) => !before.has(i) && isTestbedThing(i));

/** Prints the last warnings and errors of a workspace's control plane, for whoever reads a failed run. */
export function printControlPlaneWarnings(workspaceDir: string): void {
  try {
    const log = readFileSync(join(workspaceDir, '.cairn', 'logs', 'control-plane.log'), 'utf8');
    const bad = log.split('\n').filter((l) => /"level":(40|50)|"level":"(warn|error)"/.test(l));
    if (bad.length > 0) console.warn(`control plane warnings and errors:\n${bad.slice(-30).join('\n')}`);
  } catch {}
}
