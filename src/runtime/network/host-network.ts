/**
 * The host side of isolated instances: claims the workspace's subnet, wires each instance's
 * network namespace to the host with a veth pair, keeps the workspace's nftables table in step
 * with what runs, and lets the gateway's process (and only it) reach the instances through its
 * cgroup. Everything it creates carries the workspace's tag and is removed by `teardown`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DriverError } from '../../lib/index.js';
import { hostInterface, peerInterface, slotAddresses, WORKSPACE_SUBNETS, workspaceTag } from './addresses.js';
import { forwardingInterfaces, type RuledInstance, renderRuleset, tableName } from './ruleset.js';

const execFileAsync = promisify(execFile);
/** Runs a network tool by its absolute path: as root they live in /usr/sbin, which PATH may lack. */
const run = (tool: string, args: string[]) => execFileAsync(toolPath(tool), args);
const CGROUP_ROOT = '/sys/fs/cgroup';
/** Host-wide claims of subnets (one file per subnet, naming the runtime folder that owns it). */
const CLAIMS_DIR = '/dev/shm/cairn-net';
const TOOLS = ['ip', 'nft', 'nsenter'];

/** What an isolated instance's handle records of its network. */
export interface InstanceNetwork {
  slot: number;
  hostIf: string;
  hostIp: string;
  ip: string;
  /** Host ports (on 127.0.0.1) the instance may reach at `hostIp`. */
  egressPorts: number[];
  /** Services of its environment it may call, in order: the i-th at `hostIp:peerPort(i)`. */
  allow?: string[];
}

/** Whether this machine can isolate instances, and why not. */
export function hostNetworkSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'network isolation needs root (veth pairs, nftables)' };
  const missing = TOOLS.filter((t) => toolPath(t) === t);
  if (missing.length > 0) {
    return {
      ok: false,
      reason: `${missing.join(', ')} not installed (apt-get install iproute2 nftables util-linux)`,
    };
  }
  if (!cgroup2Mount())
    return { ok: false, reason: 'no cgroup2 hierarchy is mounted (the gateway is matched by its cgroup)' };
  return { ok: true };
}

export class HostNetwork {
  readonly tag: string;
  private subnet: number | undefined;
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly runtimeDir: string) {
    this.tag = workspaceTag(resolve(runtimeDir));
  }

  /** The workspace's subnet index, claimed once per machine. */
  subnetIndex(): number {
    this.subnet ??= claimSubnet(resolve(this.runtimeDir), this.tag);
    return this.subnet;
  }

  /** Wires the network namespace of process `pid` to the host through slot `slot`'s veth pair. */
  async attach(pid: number, planned: InstanceNetwork): Promise<InstanceNetwork> {
    const { slot, egressPorts } = planned;
    const { hostIp, ip } = slotAddresses(this.subnetIndex(), slot);
    const hostIf = hostInterface(this.tag, slot);
    const peer = peerInterface(this.tag, slot);
    await ipLinkDelete(hostIf);
    try {
      // Two commands, not nine: each exec costs milliseconds on an instance's way to healthy.
      const host = [
        `link add ${hostIf} type veth peer name ${peer}`,
        `link set ${peer} netns ${pid}`,
        `addr add ${hostIp}/30 dev ${hostIf}`,
        `link set ${hostIf} up`,
      ];
      await runWithInput('ip', ['-batch', '-'], `${host.join('\n')}\n`);
      writeSysctl(`ipv6/conf/${hostIf}/disable_ipv6`, '1');
      if (egressPorts.length > 0) writeSysctl(`ipv4/conf/${hostIf}/route_localnet`, '1');
      const inside = [
        'link set lo up',
        `link set ${peer} name eth0`,
        `addr add ${ip}/30 dev eth0`,
        'link set eth0 up',
        `route add default via ${hostIp}`,
      ];
      await runWithInput('nsenter', ['-t', String(pid), '-n', 'ip', '-batch', '-'], `${inside.join('\n')}\n`);
    } catch (error) {
      await ipLinkDelete(hostIf);
      throw new DriverError(`wiring the network of pid ${pid}: ${(error as Error).message.split('\n')[0]}`, {
        cause: error,
        hint: 'run `cairn doctor` to check iproute2 and nftables',
      });
    }
    return { ...planned, hostIf, hostIp, ip };
  }

  /** Removes slot's host interface when its namespace did not take it with it. */
  detach(net: InstanceNetwork): Promise<void> {
    return ipLinkDelete(net.hostIf);
  }

  /**
   * Replaces the workspace's table with rules for exactly `instances` (serialised: last call wins)
   * and lets only the interfaces of allowed calls forward.
   */
  applyRules(instances: RuledInstance[]): Promise<void> {
    const cgroup = gatewayCgroup(this.tag);
    // nftables resolves the cgroup when the rules load: it must exist first.
    mkdirSync(cgroup.dir, { recursive: true });
    const script = renderRuleset({ tag: this.tag, gatewayCgroup: cgroup, instances });
    const forwarding = forwardingInterfaces(instances);
    this.applying = this.applying
      .catch(() => undefined)
      .then(() => runWithInput('nft', ['-f', '-'], script))
      .then(() => {
        for (const i of instances) {
          // Per interface, never the host-wide switch: everything else keeps not forwarding.
          writeSysctl(`ipv4/conf/${i.hostIf}/forwarding`, forwarding.has(i.hostIf) ? '1' : '0', true);
        }
      });
    return this.applying.catch((error) => {
      throw new DriverError(`applying the instance firewall: ${(error as Error).message.split('\n')[0]}`, {
        cause: error,
        hint: 'run `cairn doctor` to check nftables',
      });
    });
  }

  /**
   * Makes this process (the control plane: gateway, health checks) the one that reaches instances;
   * first removes what workspaces that are gone left behind (a crash, a deleted folder).
   */
  async admitThisProcess(): Promise<void> {
    await sweepStaleNetworks();
    const { dir } = gatewayCgroup(this.tag);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
  }

  /**
   * Puts another process (the gateway process) in the gateway's cgroup. A process started by an
   * admitted one is in it already; this covers a gateway adopted from a previous control plane.
   */
  admitProcess(pid: number): void {
    const { dir } = gatewayCgroup(this.tag);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  }

  /** Removes the table, every interface of the workspace, the gateway's cgroup and the subnet claim. */
  async teardown(): Promise<void> {
    await removeTagged(this.tag);
    releaseSubnet(resolve(this.runtimeDir));
  }
}

/** Deletes the table, interfaces and gateway cgroup of one workspace tag. */
async function removeTagged(tag: string): Promise<void> {
  await run('nft', ['delete', 'table', 'inet', tableName(tag)]).catch(() => undefined);
  const { stdout } = await run('ip', ['-o', 'link', 'show']).catch(() => ({ stdout: '' }));
  const links = [...stdout.matchAll(/^\d+: (cx[0-9a-f]{6}s\d+)[@:]/gm)].map((m) => m[1]!);
  await Promise.all(links.filter((n) => n.startsWith(`cx${tag}s`)).map(ipLinkDelete));
  leaveCgroup(tag);
}

/**
 * Tables of workspaces that hold no live claim any more (their folder is gone, or a control plane
 * died before `cairn down`), with their interfaces and cgroups, and their stale claims.
 */
async function sweepStaleNetworks(): Promise<void> {
  const live = new Set<string>();
  if (existsSync(CLAIMS_DIR)) {
    for (const i of readdirSync(CLAIMS_DIR)) {
      const owner = readFileSync(join(CLAIMS_DIR, i), 'utf8');
      if (existsSync(owner)) live.add(workspaceTag(owner));
      else rmSync(join(CLAIMS_DIR, i), { force: true });
    }
  }
  const { stdout } = await run('nft', ['list', 'tables']).catch(() => ({ stdout: '' }));
  const tags = [...stdout.matchAll(/^table inet cairn_([0-9a-f]{6})$/gm)].map((m) => m[1]!);
  await Promise.all(tags.filter((t) => !live.has(t) && !cgroupBusy(t)).map(removeTagged));
}

/** A gateway cgroup with a process in it belongs to a control plane that runs. */
function cgroupBusy(tag: string): boolean {
  const procs = join(gatewayCgroup(tag).dir, 'cgroup.procs');
  return existsSync(procs) && readFileSync(procs, 'utf8').trim() !== '';
}

/** The gateway's cgroup: where it is on disk, and how nftables names it. */
function gatewayCgroup(tag: string): { dir: string; path: string; level: number } {
  const mount = cgroup2Mount() ?? CGROUP_ROOT;
  const name = `cairn-gw-${tag}`;
  return { dir: join(mount, name), path: join(relative(CGROUP_ROOT, mount), name), level: 1 };
}

function leaveCgroup(tag: string): void {
  const { dir } = gatewayCgroup(tag);
  if (!existsSync(dir)) return;
  const procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
  for (const pid of procs) writeFileSync(join(dirname(dir), 'cgroup.procs'), pid);
  try {
    rmdirSync(dir);
  } catch {
    // Busy (a process still joining): the next teardown removes it.
  }
}

function cgroup2Mount(): string | undefined {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
  return mounts.map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1];
}

/** Claims a free subnet for `owner` (its own claim, a claim whose owner is gone, or a new one). */
function claimSubnet(owner: string, tag: string): number {
  mkdirSync(CLAIMS_DIR, { recursive: true, mode: 0o700 });
  const start = Number.parseInt(tag, 16) % WORKSPACE_SUBNETS;
  const order = Array.from({ length: WORKSPACE_SUBNETS }, (_, i) => (start + i) % WORKSPACE_SUBNETS);
  const claimOf = (i: number) => join(CLAIMS_DIR, String(i));
  const existing = order.find((i) => existsSync(claimOf(i)) && readFileSync(claimOf(i), 'utf8') === owner);
  if (existing !== undefined) return existing;
  for (const i of order) {
    try {
      writeFileSync(claimOf(i), owner, { flag: 'wx', mode: 0o600 });
      return i;
    } catch {
      const holder = readFileSync(claimOf(i), 'utf8');
      if (!existsSync(holder)) {
        writeFileSync(claimOf(i), owner, { mode: 0o600 });
        return i;
      }
    }
  }
  throw new DriverError(
    'claiming an instance subnet: all 64 subnets of 10.201.0.0/16 are held by other workspaces',
    {
      hint: `stop workspaces you no longer use with \`cairn down\`, or remove stale claims in ${CLAIMS_DIR}`,
    },
  );
}

function releaseSubnet(owner: string): void {
  if (!existsSync(CLAIMS_DIR)) return;
  for (let i = 0; i < WORKSPACE_SUBNETS; i++) {
    const file = join(CLAIMS_DIR, String(i));
    if (existsSync(file) && readFileSync(file, 'utf8') === owner) rmSync(file, { force: true });
  }
}

function writeSysctl(key: string, value: string, gone = false): void {
  try {
    writeFileSync(`/proc/sys/net/${key}`, value);
  } catch (error) {
    // An interface that is already gone (its instance stopped) has nothing left to set.
    if (!gone || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

async function ipLinkDelete(name: string): Promise<void> {
  await run('ip', ['link', 'delete', name]).catch(() => undefined);
}

function runWithInput(cmd: string, args: string[], input: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(toolPath(cmd), args, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args[0]}: ${stderr.trim() || error.message}`));
      else resolvePromise();
    });
    child.stdin?.end(input);
  });
}

/** The absolute path of `tool` on PATH or in the sbin folders; the bare name when it is nowhere. */
export function toolPath(tool: string): string {
  const dirs = [
    ...(process.env.PATH ?? '').split(':').filter(Boolean),
    '/usr/sbin',
    '/sbin',
    '/usr/bin',
    '/bin',
  ];
  return dirs.map((dir) => join(dir, tool)).find((file) => existsSync(file)) ?? tool;
}
