/**
 * The shared edge of the drivers whose instance is a host process tree (bwrap, process): spawn it
 * detached with its output in the log file, remember its pid and kernel start time, find it again
 * through instance.json, stop it with SIGTERM then SIGKILL.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { DriverError } from '../lib/index.js';
import { prepareBundle } from './bundle.js';
import { type ConfigFileMount, checkConfigFilePaths, writeConfigFiles } from './config-files.js';
import {
  baseHandle,
  checkMountPaths,
  createInstanceDir,
  instanceDir,
  openLog,
  readHandles,
  removeInstanceDir,
  writeHandle,
} from './instance-files.js';
import { descendants, isAlive, readStat, signal, waitFor } from './proc.js';
import type {
  BlobSource,
  Bundle,
  InstanceHandle,
  InstanceSpec,
  ObservedInstance,
  RuntimeConfig,
  RuntimeDriver,
} from './types.js';
import { ensureVolumes, type VolumeMount } from './volumes.js';

const KILL_WAIT_MS = 2000;

/** How to launch one instance; folders in `openDirs` are passed as descriptors 3, 4, … */
export interface LaunchPlan {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  uid?: number;
  gid?: number;
}

/** What an instance has on the host besides its bundle: its secrets folder, volumes and configuration files. */
export interface InstanceMounts {
  secretsDir: string | undefined;
  volumes: VolumeMount[];
  files: ConfigFileMount[];
}

export interface PidDriverShape {
  kind: 'bwrap' | 'process';
  /** Builds the launch plan; `fds` maps each folder in `openDirs` to its descriptor number. */
  plan(spec: InstanceSpec, mounts: InstanceMounts, fds: Map<string, number>): LaunchPlan;
  openDirs(spec: InstanceSpec, mounts: InstanceMounts): string[];
  /** Whether it can bind volumes and configuration files (the process driver cannot: it mounts nothing). */
  volumes: boolean;
  /** bwrap: SIGTERM goes to the sandboxed processes, not to bwrap (which would orphan them). */
  signalChildren: boolean;
}

export class PidDriver implements RuntimeDriver {
  readonly kind: 'bwrap' | 'process';

  constructor(
    private readonly config: RuntimeConfig,
    private readonly shape: PidDriverShape,
  ) {
    this.kind = shape.kind;
  }

  prepare(image: { digest: string; source: BlobSource }): Promise<Bundle> {
    return prepareBundle(image.source, image.digest, this.config.bundlesDir);
  }

  async start(spec: InstanceSpec): Promise<InstanceHandle> {
    if (!this.shape.volumes && (spec.run.volumes ?? []).length > 0) {
      throw new DriverError(`starting ${spec.id}: the ${this.kind} driver cannot mount volumes`, {
        hint: 'install runc or bubblewrap (`cairn doctor --install`), or remove run.volumes',
      });
    }
    if (!this.shape.volumes && Object.keys(spec.files ?? {}).length > 0) {
      throw new DriverError(`starting ${spec.id}: the ${this.kind} driver cannot mount configuration files`, {
        hint: 'install runc or bubblewrap (`cairn doctor --install`), or remove environments.<env>.files',
      });
    }
    await checkMountPaths(spec);
    await checkConfigFilePaths(spec);
    const secretsDir = await createInstanceDir(this.config, spec, false);
    try {
      const volumes = await ensureVolumes(this.config, spec);
      const files = await writeConfigFiles(this.config, spec);
      const pid = await this.spawnInstance(spec, { secretsDir, volumes, files });
      const stat = readStat(pid);
      const handle: InstanceHandle = {
        ...baseHandle(this.config, spec),
        kind: this.kind,
        pid,
        pidStartTicks: stat?.startTicks ?? 0,
      };
      await writeHandle(this.config, handle);
      return handle;
    } catch (error) {
      await removeInstanceDir(this.config, spec.id);
      throw error;
    }
  }

  private async spawnInstance(spec: InstanceSpec, mounts: InstanceMounts): Promise<number> {
    const dirs = this.shape.openDirs(spec, mounts);
    const opened = dirs.map((d) => openSync(d, 'r'));
    const fds = new Map(dirs.map((d, i) => [d, 3 + i]));
    const plan = this.shape.plan(spec, mounts, fds);
    const log = await openLog(this.config, spec.id);
    try {
      const child = spawn(plan.argv[0]!, plan.argv.slice(1), {
        stdio: ['ignore', log.fd, log.fd, ...opened],
        detached: true,
        cwd: plan.cwd ?? instanceDir(this.config, spec.id),
        env: plan.env ?? {},
        ...(plan.uid !== undefined ? { uid: plan.uid, gid: plan.gid } : {}),
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (e) =>
          reject(new DriverError(`starting ${spec.id} with ${this.kind}: ${e.message}`, { cause: e })),
        );
      });
      child.unref();
      return child.pid!;
    } finally {
      for (const fd of opened) closeSync(fd);
      await log.close();
    }
  }

  async stop(handle: InstanceHandle, graceMs: number): Promise<void> {
    const alive = () => handle.pid > 0 && isAlive(handle.pid, handle.pidStartTicks);
    if (alive()) {
      const children = descendants(handle.pid);
      const targets = this.shape.signalChildren && children.length > 0 ? children : [handle.pid];
      for (const pid of targets) signal(pid, 'SIGTERM');
      if (!(await waitFor(() => !alive(), graceMs))) {
        for (const pid of [...descendants(handle.pid), handle.pid]) signal(pid, 'SIGKILL');
        await waitFor(() => !alive(), KILL_WAIT_MS);
      }
    }
    await removeInstanceDir(this.config, handle.id);
  }

  async inspect(handle: InstanceHandle): Promise<ObservedInstance> {
    if (handle.pid > 0 && isAlive(handle.pid, handle.pidStartTicks)) {
      return { id: handle.id, status: 'running', pid: handle.pid, startedAt: handle.startedAt };
    }
    const known = (await readHandles(this.config)).some((h) => h.id === handle.id);
    return { id: handle.id, status: known ? 'exited' : 'missing' };
  }

  list(): Promise<InstanceHandle[]> {
    return readHandles(this.config);
  }

  logs(handle: InstanceHandle): string {
    return handle.logPath;
  }
}
