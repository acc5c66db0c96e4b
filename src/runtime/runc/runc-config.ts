/**
 * The OCI runtime config (config.json) of one instance: read-only root, the image's non-root user,
 * no capabilities, no new privileges, masked kernel paths, own PID/mount/IPC/UTS namespaces, an
 * own network namespace when isolated (else the host network), tmpfs and volumes only where the spec says,
 * configuration files and secrets bind-mounted read-only. Pure.
 */
import type { ImageProcess } from '../types.js';

export const OCI_VERSION = '1.0.2';
export const SECRETS_DIR = '/run/secrets';
const TMPFS_SIZE = 'size=65536k';
const NOFILE_LIMIT = 4096;
const PIDS_LIMIT = 1024;
const CPU_PERIOD_US = 100_000;

/** The kernel paths Docker and runc hide from containers. */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface RuncConfigInput {
  rootfs: string;
  process: ImageProcess;
  /** The full environment (`NAME=value`), image env merged with injected values and PORT. */
  env: string[];
  hostname: string;
  tmpfs: string[];
  /**
   * The image's declared mount points (its bundle made each a folder, mode 0700): a tmpfs there
   * belongs to the image user. A tmpfs elsewhere (an image built before cairn declared them) keeps
   * root as owner and the mode of its folder.
   */
  mountPoints?: string[];
  /** Named volumes: host folder → folder in the instance, bound read-write. */
  volumes?: Array<{ path: string; source: string }>;
  /** Configuration files: host copy → file in the instance, bound read-only. */
  files?: Array<{ path: string; source: string }>;
  /** Host folder with one file per secret, or undefined when the instance has none. */
  secretsDir?: string;
  memoryMb?: number;
  cpus?: number;
  /** Its own network namespace (wired to the host by the driver), instead of the host's network. */
  isolateNetwork?: boolean;
  annotations: Record<string, string>;
}

interface Mount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

function baseMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', TMPFS_SIZE],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', TMPFS_SIZE],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
}

function resources(input: RuncConfigInput): Record<string, unknown> {
  const out: Record<string, unknown> = { pids: { limit: PIDS_LIMIT } };
  if (input.memoryMb !== undefined) out.memory = { limit: input.memoryMb * 1024 * 1024 };
  if (input.cpus !== undefined)
    out.cpu = { quota: Math.round(input.cpus * CPU_PERIOD_US), period: CPU_PERIOD_US };
  return out;
}

/** Builds config.json for `runc run`. */
export function runcConfig(input: RuncConfigInput): Record<string, unknown> {
  const mounts = baseMounts();
  const declared = new Set(input.mountPoints ?? []);
  const { uid, gid, args, cwd } = input.process;
  for (const path of input.tmpfs) {
    // runc sets the mount's mode to its folder's (0700 for a declared mount point) after mounting.
    const owner = declared.has(path) ? [`uid=${uid}`, `gid=${gid}`] : ['mode=1777'];
    mounts.push({
      destination: path,
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', ...owner, TMPFS_SIZE],
    });
  }
  for (const v of input.volumes ?? []) {
    mounts.push({
      destination: v.path,
      type: 'bind',
      source: v.source,
      options: ['rbind', 'rw', 'nosuid', 'nodev'],
    });
  }
  for (const f of input.files ?? []) {
    // A file bind: its mount point is an empty file the bundle made (see runtime/config-files.ts).
    mounts.push({
      destination: f.path,
      type: 'bind',
      source: f.source,
      options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'],
    });
  }
  if (input.secretsDir) {
    mounts.push({
      destination: SECRETS_DIR,
      type: 'bind',
      source: input.secretsDir,
      options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'],
    });
  }
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid, gid, additionalGids: [gid] },
      args,
      env: input.env,
      cwd,
      capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: NOFILE_LIMIT, soft: NOFILE_LIMIT }],
      noNewPrivileges: true,
    },
    root: { path: input.rootfs, readonly: true },
    hostname: input.hostname,
    mounts,
    annotations: input.annotations,
    linux: {
      resources: resources(input),
      // Isolated: a new, empty network namespace the driver wires to the host with a veth pair.
      // Otherwise instances share the host network and listen on their loopback PORT.
      namespaces: [
        { type: 'pid' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        ...(input.isolateNetwork ? [{ type: 'network' }] : []),
      ],
      // Its own namespace: any port, 80 too, is the instance's to listen on without a capability.
      ...(input.isolateNetwork ? { sysctl: { 'net.ipv4.ip_unprivileged_port_start': '0' } } : {}),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}
