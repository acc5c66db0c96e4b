/**
 * The isolated networks of one workspace's runc instances: which slot each holds, the networks of
 * instances being started (not yet in a handle), and the firewall kept in step with both. The
 * driver asks for a plan before it writes config.json (the addresses go into the environment),
 * wires the namespace once the container exists, and releases it when the instance goes.
 */
import { DriverError } from '../../lib/index.js';
import { readHandles } from '../instance-files.js';
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
import type { InstanceSpec, RuntimeConfig } from '../types.js';

/** Where an isolated instance reaches the host services its egress lists. */
export const HOST_VAR = 'CAIRN_HOST';

/** An isolated instance as the firewall needs it: who it is, where it listens, its network. */
interface Networked {
  service: string;
  env: string;
  port: number;
  network: InstanceNetwork;
}

export class RuncNetworks {
  private readonly slots = new Map<string, number>();
  private slotsLoaded: Promise<void> | undefined;
  private readonly pending = new Map<string, Networked>();
  private rulesApplied = false;

  private constructor(
    private readonly net: HostNetwork,
    private readonly config: RuntimeConfig,
  ) {}

  /** Isolation where this machine allows it; otherwise undefined, and the user is told why. */
  static create(config: RuntimeConfig): RuncNetworks | undefined {
    const support = hostNetworkSupport();
    if (support.ok) return new RuncNetworks(new HostNetwork(config.runtimeDir), config);
    (config.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`)))(
      `instances share the host network (reachable on their ports, not only through the gateway): ${support.reason}`,
    );
    return undefined;
  }

  /** Reserves the lowest free slot for `spec` and says what its network will be. */
  async plan(spec: InstanceSpec): Promise<InstanceNetwork> {
    this.slotsLoaded ??= readHandles(this.config).then((handles) => {
      for (const h of handles) if (h.network) this.slots.set(h.id, h.network.slot);
    });
    await this.slotsLoaded;
    // From here to the set, nothing awaits: two starts never get the same slot.
    const slot = freeSlot(this.slots.values());
    if (slot === undefined) {
      throw new DriverError(
        `starting ${spec.id}: all ${SLOTS} instance addresses of this workspace are in use`,
        {
          hint: 'lower run.replicas, or stop environments you do not need',
        },
      );
    }
    this.slots.set(spec.id, slot);
    const allow = spec.run.network?.allow ?? [];
    return {
      slot,
      hostIf: hostInterface(this.net.tag, slot),
      ...slotAddresses(this.net.subnetIndex(), slot),
      egressPorts: [
        ...new Set([...egressPorts(spec.run), ...(spec.svid?.hopPort ? [spec.svid.hopPort] : [])]),
      ],
      ...(allow.length > 0 ? { allow } : {}),
    };
  }

  /** What an isolated instance finds in its environment: the host's address and its allowed services. */
  vars(planned: InstanceNetwork, spec?: InstanceSpec): Record<string, string> {
    const peers = (planned.allow ?? []).map((s, n) => [serviceVar(s), `${planned.hostIp}:${peerPort(n)}`]);
    // The identity hop listens on the host's loopback: an isolated instance reaches it at its host address.
    const hop = spec?.svid?.hopPort
      ? { CAIRN_IDENTITY_HOP: `https://${planned.hostIp}:${spec.svid.hopPort}` }
      : {};
    return { [HOST_VAR]: planned.hostIp, ...Object.fromEntries(peers), ...hop };
  }

  /** Wires the namespace of `pid` and loads the rules with it (the rules name only the host end, so both go at once). */
  async wire(spec: InstanceSpec, pid: number, planned: InstanceNetwork): Promise<InstanceNetwork> {
    this.pending.set(spec.id, { service: spec.service, env: spec.env, port: spec.port, network: planned });
    const [wired] = await Promise.all([this.net.attach(pid, planned), this.applyRules()]);
    return wired;
  }

  /** The instance has its handle now: the firewall reads it from there. */
  recorded(id: string): void {
    this.pending.delete(id);
  }

  /** The instance is gone (stopped, or its start failed): its slot, host interface and rules go too. */
  async release(id: string, network: InstanceNetwork): Promise<void> {
    this.pending.delete(id);
    this.slots.delete(id);
    await this.net.detach(network);
    await this.applyRules();
  }

  /** After a restart (adoption lists first), the firewall is made to match what is recorded. */
  async ensureRules(): Promise<void> {
    if (!this.rulesApplied) await this.applyRules();
  }

  private async applyRules(): Promise<void> {
    const recorded = (await readHandles(this.config)).flatMap((h) =>
      h.network ? [{ service: h.service, env: h.env, port: h.port, network: h.network }] : [],
    );
    const all = [...recorded, ...this.pending.values()];
    await this.net.applyRules(all.map((i) => ruled(i, all)));
    this.rulesApplied = true;
  }
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
