/**
 * The runc driver: each instance is a detached OCI container whose config.json (see runc-config.ts)
 * points at the shared read-only bundle rootfs. runc's state lives in `.cairn/runtime/runc`, so
 * `list()` sees exactly the containers cairn's runtime folder holds — including ones cairn did not
 * record, which adoption then stops.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DriverError } from '../../lib/index.js';
import { prepareBundle } from '../bundle.js';
import { mergeEnv } from '../image-process.js';
import {
  ALL_INTERFACES,
  baseHandle,
  checkTmpfsPaths,
  createInstanceDir,
  instanceDir,
  instanceVars,
  logPathOf,
  openLog,
  privateDirOf,
  readHandle,
  readHandles,
  removeInstanceDir,
  writeHandle,
} from '../instance-files.js';
import {
  freeSlot,
  HostNetwork,
  hostInterface,
  hostNetworkSupport,
  type InstanceNetwork,
  peerPort,
  type RuledInstance,
  SLOTS,
  serviceVar,
  slotAddresses,
} from '../network/index.js';
import { readStat, waitFor } from '../proc.js';
import type {
  BlobSource,
  Bundle,
  InstanceHandle,
  InstanceSpec,
  ObservedInstance,
  RuntimeConfig,
  RuntimeDriver,
} from '../types.js';
import { RuncCli, type RuncState } from './runc-cli.js';
import { runcConfig, SECRETS_DIR } from './runc-config.js';

const KILL_WAIT_MS = 2000;
/** Where an isolated instance reaches the host services its egress lists. */
export const HOST_VAR = 'CAIRN_HOST';
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

class RuncDriver implements RuntimeDriver {
  readonly kind = 'runc' as const;
  private readonly runc: RuncCli;
  /** Isolated networking, when asked for and possible here. */
  private readonly net: HostNetwork | undefined;
  private readonly slots = new Map<string, number>();
  private slotsLoaded: Promise<void> | undefined;
  /** Networks of instances started but not yet recorded in a handle. */
  private readonly pending = new Map<string, Networked>();
  private rulesApplied = false;

  constructor(private readonly config: RuncConfig) {
    this.runc = new RuncCli(join(config.runtimeDir, 'runc'), config.binary);
    this.net = config.isolateNetwork ? isolation(config) : undefined;
  }

  prepare(image: { digest: string; source: BlobSource }): Promise<Bundle> {
    return prepareBundle(image.source, image.digest, this.config.bundlesDir);
  }

  async start(spec: InstanceSpec): Promise<InstanceHandle> {
    await checkTmpfsPaths(spec);
    const secretsDir = await createInstanceDir(this.config, spec, true);
    const dir = instanceDir(this.config, spec.id);
    // The bundle folder is the private one: config.json may carry secret env values.
    const bundleDir = privateDirOf(this.config, spec.id);
    const configFile = join(bundleDir, 'config.json');
    const slot = this.net ? await this.reserveSlot(spec.id) : undefined;
    let network: InstanceNetwork | undefined;
    try {
      const hostIp = slot === undefined ? undefined : slotAddresses(this.net!.subnetIndex(), slot).hostIp;
      await writeFile(configFile, JSON.stringify(this.configFor(spec, secretsDir, hostIp), null, 2), {
        mode: 0o600,
      });
      const log = await openLog(this.config, spec.id);
      try {
        const files = { bundleDir, pidFile: join(dir, 'pid'), logFd: log.fd, runcLog: join(dir, 'runc.log') };
        // Isolated: created first, so its network is wired before it runs.
        await this.runc.launch(this.net ? 'create' : 'run', spec.id, files);
      } finally {
        await log.close();
      }
      const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
      if (this.net && slot !== undefined) {
        // Wired and firewalled before its first instruction runs: it never sees an open network.
        const planned = plannedNetwork(this.net, slot, spec.run);
        // The rules name the host interface only, so they load while the namespace is wired.
        this.pending.set(spec.id, {
          service: spec.service,
          env: spec.env,
          port: spec.port,
          network: planned,
        });
        [network] = await Promise.all([this.net.attach(pid, planned), this.applyRules()]);
        await this.runc.exec(['start', spec.id], `starting ${spec.id}`);
      }
      const handle: InstanceHandle = {
        ...baseHandle(this.config, spec),
        kind: 'runc',
        pid,
        pidStartTicks: readStat(pid)?.startTicks ?? 0,
        configFile,
        ...(network ? { network, endpoint: `${network.ip}:${spec.port}` } : {}),
      };
      await writeHandle(this.config, handle);
      this.pending.delete(spec.id);
      return handle;
    } catch (error) {
      await this.runc.exec(['delete', '--force', spec.id], `cleaning up ${spec.id}`).catch(() => undefined);
      await removeInstanceDir(this.config, spec.id);
      if (network) await this.net!.detach(network);
      this.pending.delete(spec.id);
      this.slots.delete(spec.id);
      if (this.net) await this.applyRules().catch(() => undefined);
      throw error;
    }
  }

  /** The lowest slot no instance of this workspace holds (allocation itself is synchronous). */
  private async reserveSlot(id: string): Promise<number> {
    this.slotsLoaded ??= readHandles(this.config).then((handles) => {
      for (const h of handles) if (h.network) this.slots.set(h.id, h.network.slot);
    });
    await this.slotsLoaded;
    const slot = freeSlot(this.slots.values());
    if (slot === undefined) {
      throw new DriverError(`starting ${id}: all ${SLOTS} instance addresses of this workspace are in use`, {
        hint: 'lower run.replicas, or stop environments you do not need',
      });
    }
    this.slots.set(id, slot);
    return slot;
  }

  /** The firewall for every isolated instance recorded or being started now. */
  private async applyRules(): Promise<void> {
    const recorded = (await readHandles(this.config)).flatMap((h) =>
      h.network ? [{ service: h.service, env: h.env, port: h.port, network: h.network }] : [],
    );
    const all = [...recorded, ...this.pending.values()];
    await this.net!.applyRules(all.map((i) => ruled(i, all)));
    this.rulesApplied = true;
  }

  private configFor(
    spec: InstanceSpec,
    secretsDir: string | undefined,
    hostIp?: string,
  ): Record<string, unknown> {
    const peers = (spec.run.network?.allow ?? []).map((s, n) => [serviceVar(s), `${hostIp}:${peerPort(n)}`]);
    const vars = hostIp
      ? {
          ...instanceVars(spec, SECRETS_DIR, ALL_INTERFACES),
          [HOST_VAR]: hostIp,
          ...Object.fromEntries(peers),
        }
      : instanceVars(spec, SECRETS_DIR);
    return runcConfig({
      rootfs: spec.bundle.rootfs,
      process: spec.bundle.process,
      env: mergeEnv(spec.bundle.process.env, vars),
      ...(hostIp ? { isolateNetwork: true } : {}),
      hostname: spec.id,
      tmpfs: spec.run.tmpfs,
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
    if (this.net && handle.network) {
      // Its namespace took the veth pair with it; the host end goes too if something held it.
      await this.net.detach(handle.network);
      this.slots.delete(handle.id);
      await this.applyRules();
    }
  }

  async inspect(handle: InstanceHandle): Promise<ObservedInstance> {
    const state = await this.runc.state(handle.id);
    if (!state) return { id: handle.id, status: 'missing' };
    if (state.status === 'running' || state.status === 'created' || state.status === 'creating') {
      return { id: handle.id, status: 'running', pid: state.pid, startedAt: state.created };
    }
    return { id: handle.id, status: 'exited' };
  }

  async list(): Promise<InstanceHandle[]> {
    // After a restart (adoption lists first), the firewall is made to match what is recorded.
    if (this.net && !this.rulesApplied) await this.applyRules();
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

/** Where isolation is impossible, the instances share the host network, and the user is told why. */
function isolation(config: RuncConfig): HostNetwork | undefined {
  const support = hostNetworkSupport();
  if (support.ok) return new HostNetwork(config.runtimeDir);
  (config.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`)))(
    `instances share the host network (reachable on their ports, not only through the gateway): ${support.reason}`,
  );
  return undefined;
}

/** An isolated instance as the firewall needs it: who it is, where it listens, its network. */
interface Networked {
  service: string;
  env: string;
  port: number;
  network: InstanceNetwork;
}

/** The network slot `slot` gets, before it is wired (what the rules need). */
function plannedNetwork(net: HostNetwork, slot: number, run: InstanceSpec['run']): InstanceNetwork {
  const allow = run.network?.allow ?? [];
  return {
    slot,
    hostIf: hostInterface(net.tag, slot),
    ...slotAddresses(net.subnetIndex(), slot),
    egressPorts: egressPorts(run),
    ...(allow.length > 0 ? { allow } : {}),
  };
}

/** One instance's rules: its egress, and for each service it may call, that service's instances in its environment. */
function ruled(i: Networked, all: Networked[]): RuledInstance {
  const peers = (i.network.allow ?? []).map((service, n) => ({
    port: peerPort(n),
    targets: all
      .filter((o) => o.service === service && o.env === i.env)
      .map((o) => ({ hostIf: o.network.hostIf, address: `${o.network.ip}:${o.port}` })),
  }));
  return { hostIf: i.network.hostIf, hostIp: i.network.hostIp, egressPorts: i.network.egressPorts, peers };
}

/** The host ports `run.network.egress` lists (`127.0.0.1:PORT`). */
function egressPorts(run: InstanceSpec['run']): number[] {
  return (run.network?.egress ?? []).map((dest) => Number(dest.slice(dest.lastIndexOf(':') + 1)));
}

/** Creates the runc driver. */
export function createRuncDriver(config: RuncConfig): RuntimeDriver {
  return new RuncDriver(config);
}
