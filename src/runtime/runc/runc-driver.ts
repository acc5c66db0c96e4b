/**
 * The runc driver: each instance is a detached OCI container whose config.json (see runc-config.ts)
 * points at the shared read-only bundle rootfs. runc's state lives in `.cairn/runtime/runc`, so
 * `list()` sees exactly the containers cairn's runtime folder holds — including ones cairn did not
 * record, which adoption then stops.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareBundle } from '../bundle.js';
import { type ConfigFileMount, checkConfigFilePaths, writeConfigFiles } from '../config-files.js';
import { mergeEnv } from '../image-process.js';
import {
  ALL_INTERFACES,
  baseHandle,
  checkMountPaths,
  createInstanceDir,
  instanceArgs,
  instanceDir,
  instanceVars,
  logPathOf,
  openLog,
  privateDirOf,
  readHandle,
  removeInstanceDir,
  writeHandle,
} from '../instance-files.js';
import type { InstanceNetwork } from '../network/index.js';
import { isAlive, readStat, waitFor } from '../proc.js';
import type {
  BlobSource,
  Bundle,
  InstanceHandle,
  InstanceSpec,
  ObservedInstance,
  RuntimeConfig,
  RuntimeDriver,
} from '../types.js';
import { ensureVolumes, type VolumeMount } from '../volumes.js';
import { RuncCli, type RuncState } from './runc-cli.js';
import { runcConfig, SECRETS_DIR } from './runc-config.js';
import { RuncNetworks } from './runc-network.js';

const KILL_WAIT_MS = 2000;
export const ANNOTATION = {
  instance: 'dev.cairn.instance',
  release: 'dev.cairn.release',
  service: 'dev.cairn.service',
  env: 'dev.cairn.env',
  port: 'dev.cairn.port',
  image: 'dev.cairn.image',
};

export interface RuncConfig extends RuntimeConfig {
  /** The runc binary (default `runc` on PATH). */
  binary?: string;
}

/**
 * The init process recorded at start (the pid runc wrote, and its start time read then): while that
 * same process lives, the container runs — the test `runc state` itself makes — so a driver that
 * has not seen the container yet (the drift check's, after a deploy) need not spawn runc to know.
 */
function startedInit(
  handle: InstanceHandle,
): { pid: number; startTicks: number; created: string } | undefined {
  return handle.pid > 0 && handle.pidStartTicks > 0
    ? { pid: handle.pid, startTicks: handle.pidStartTicks, created: handle.startedAt }
    : undefined;
}

class RuncDriver implements RuntimeDriver {
  readonly kind = 'runc' as const;
  private readonly runc: RuncCli;
  /**
   * Containers `runc state` last saw running, with their init process: while that same process
   * lives, the container still runs, and `inspect` says so from /proc without spawning runc (the
   * control plane inspects every instance twice a second; a spawn each cost 128 instances a core).
   */
  private readonly running = new Map<string, { pid: number; startTicks: number; created: string }>();
  /** Isolated networking, when asked for and possible here. */
  private readonly networks: RuncNetworks | undefined;

  constructor(private readonly config: RuncConfig) {
    this.runc = new RuncCli(join(config.runtimeDir, 'runc'), config.binary);
    this.networks = config.isolateNetwork ? RuncNetworks.create(config) : undefined;
  }

  prepare(image: { digest: string; source: BlobSource }): Promise<Bundle> {
    return prepareBundle(image.source, image.digest, this.config.bundlesDir);
  }

  async start(asked: InstanceSpec): Promise<InstanceHandle> {
    await checkMountPaths(asked);
    await checkConfigFilePaths(asked);
    const planned = await this.networks?.plan(asked);
    // In its own namespace an instance listens on run.port, the port its image was written for.
    const spec = planned ? { ...asked, port: asked.run.port } : asked;
    const secretsDir = await createInstanceDir(this.config, spec, true).catch(async (error) => {
      if (planned) await this.networks!.release(spec.id, planned).catch(() => undefined);
      throw error;
    });
    const dir = instanceDir(this.config, spec.id);
    // The bundle folder is the private one: config.json may carry secret env values.
    const bundleDir = privateDirOf(this.config, spec.id);
    const configFile = join(bundleDir, 'config.json');
    try {
      const { uid, gid } = spec.bundle.process;
      const volumes = await ensureVolumes(
        this.config,
        spec,
        process.getuid?.() === 0 ? { uid, gid } : undefined,
      );
      const files = await writeConfigFiles(this.config, spec);
      const config = this.configFor(spec, { secretsDir, planned, volumes, files });
      await writeFile(configFile, JSON.stringify(config, null, 2), {
        mode: 0o600,
      });
      const log = await openLog(this.config, spec.id);
      try {
        const files = { bundleDir, pidFile: join(dir, 'pid'), logFd: log.fd, runcLog: join(dir, 'runc.log') };
        // Isolated: created first, so its network is wired and firewalled before its first instruction.
        await this.runc.launch(planned ? 'create' : 'run', spec.id, files);
      } finally {
        await log.close();
      }
      const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
      const network = planned ? await this.networks!.wire(spec, pid, planned) : undefined;
      if (network) await this.runc.exec(['start', spec.id], `starting ${spec.id}`);
      const handle: InstanceHandle = {
        ...baseHandle(this.config, spec),
        kind: 'runc',
        pid,
        pidStartTicks: readStat(pid)?.startTicks ?? 0,
        configFile,
        ...(network ? { network, endpoint: `${network.ip}:${spec.port}` } : {}),
      };
      await writeHandle(this.config, handle);
      this.networks?.recorded(spec.id);
      return handle;
    } catch (error) {
      await this.runc.exec(['delete', '--force', spec.id], `cleaning up ${spec.id}`).catch(() => undefined);
      await removeInstanceDir(this.config, spec.id);
      if (planned) await this.networks!.release(spec.id, planned).catch(() => undefined);
      throw error;
    }
  }

  private configFor(
    spec: InstanceSpec,
    {
      secretsDir,
      planned,
      volumes,
      files,
    }: { secretsDir?: string; planned?: InstanceNetwork; volumes: VolumeMount[]; files: ConfigFileMount[] },
  ): Record<string, unknown> {
    const vars = planned
      ? { ...instanceVars(spec, SECRETS_DIR, ALL_INTERFACES), ...this.networks!.vars(planned, spec) }
      : instanceVars(spec, SECRETS_DIR);
    const env = mergeEnv(spec.bundle.process.env, vars);
    return runcConfig({
      rootfs: spec.bundle.rootfs,
      process: { ...spec.bundle.process, args: instanceArgs(spec, env) },
      env,
      ...(planned ? { isolateNetwork: true } : {}),
      hostname: spec.id,
      tmpfs: spec.run.tmpfs,
      mountPoints: spec.bundle.mountPoints ?? [],
      volumes,
      files,
      ...(secretsDir ? { secretsDir } : {}),
      ...(spec.run.memoryMb !== undefined ? { memoryMb: spec.run.memoryMb } : {}),
      ...(spec.run.cpus !== undefined ? { cpus: spec.run.cpus } : {}),
      annotations: {
        [ANNOTATION.instance]: spec.id,
        [ANNOTATION.release]: spec.releaseId,
        [ANNOTATION.service]: spec.service,
        [ANNOTATION.env]: spec.env,
        [ANNOTATION.port]: String(spec.port),
        [ANNOTATION.image]: spec.bundle.imageDigest,
      },
    });
  }

  async stop(handle: InstanceHandle, graceMs: number): Promise<void> {
    this.running.delete(handle.id);
    const running = async () => (await this.runc.state(handle.id))?.status === 'running';
    if (await running()) {
      await this.runc.exec(['kill', handle.id, 'TERM'], `stopping ${handle.id}`).catch(() => undefined);
      if (!(await waitFor(async () => !(await running()), graceMs))) {
        await this.runc
          .exec(['kill', '--all', handle.id, 'KILL'], `killing ${handle.id}`)
          .catch(() => undefined);
        await waitFor(async () => !(await running()), KILL_WAIT_MS);
      }
    }
    if (await this.runc.state(handle.id))
      await this.runc.exec(['delete', '--force', handle.id], `deleting ${handle.id}`);
    await removeInstanceDir(this.config, handle.id);
    // Its namespace took the veth pair with it; the host end goes too if something held it.
    if (handle.network) await this.networks?.release(handle.id, handle.network);
  }

  async inspect(handle: InstanceHandle): Promise<ObservedInstance> {
    const known = this.running.get(handle.id) ?? startedInit(handle);
    if (known && isAlive(known.pid, known.startTicks)) {
      this.running.set(handle.id, known);
      return { id: handle.id, status: 'running', pid: known.pid, startedAt: known.created };
    }
    this.running.delete(handle.id);
    const state = await this.runc.state(handle.id);
    if (!state) return { id: handle.id, status: 'missing' };
    if (state.status === 'running') {
      const startTicks = readStat(state.pid)?.startTicks;
      if (startTicks !== undefined)
        this.running.set(handle.id, { pid: state.pid, startTicks, created: state.created });
    }
    if (state.status === 'running' || state.status === 'created' || state.status === 'creating') {
      return { id: handle.id, status: 'running', pid: state.pid, startedAt: state.created };
    }
    return { id: handle.id, status: 'exited' };
  }

  async list(): Promise<InstanceHandle[]> {
    await this.networks?.ensureRules();
    const states = await this.runc.list();
    return Promise.all(
      states.map(async (s) => (await readHandle(this.config, s.id)) ?? this.handleFromState(s)),
    );
  }

  /** A handle for a container cairn did not record (annotations, when present, say what it is). */
  private handleFromState(s: RuncState): InstanceHandle {
    const a = s.annotations ?? {};
    const port = Number(a[ANNOTATION.port] ?? 0);
    return {
      id: s.id,
      kind: 'runc',
      releaseId: a[ANNOTATION.release] ?? '',
      service: a[ANNOTATION.service] ?? '',
      env: a[ANNOTATION.env] ?? '',
      imageDigest: a[ANNOTATION.image] ?? '',
      endpoint: `127.0.0.1:${port}`,
      port,
      logPath: logPathOf(this.config, s.id),
      startedAt: s.created,
      pid: s.pid,
      pidStartTicks: readStat(s.pid)?.startTicks ?? 0,
    };
  }

  logs(handle: InstanceHandle): string {
    return handle.logPath;
  }
}

/** Creates the runc driver. */
export function createRuncDriver(config: RuncConfig): RuntimeDriver {
  return new RuncDriver(config);
}
