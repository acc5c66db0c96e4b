/**
 * The nftables table of one workspace, rendered whole from what runs (and replaced atomically, so
 * there is never a moment without rules). What it enforces:
 * - host → instance: only sockets of the gateway's cgroup (the control plane and its HAProxy) open
 *   connections out of the workspace's interfaces; anything else is refused with a reset;
 * - instance → host: nothing but replies, and the host services each instance lists in
 *   `run.network.egress`, reached at its host address and forwarded to 127.0.0.1;
 * - instance → instance: nothing is forwarded to or from the workspace's interfaces, except what
 *   an instance's `run.network.allow` lists: a port on its host address, spread over the allowed
 *   service's instances (DNAT, round robin), and the replies.
 * Pure.
 */
import { interfacePattern } from './addresses.js';

export interface RulesInput {
  tag: string;
  /** The gateway's cgroup, relative to /sys/fs/cgroup as nftables names it, and its depth. */
  gatewayCgroup: { path: string; level: number };
  instances: RuledInstance[];
}

/** One isolated instance as the rules see it. */
export interface RuledInstance {
  hostIf: string;
  hostIp: string;
  /** Host services (on 127.0.0.1) it may reach at hostIp. */
  egressPorts: number[];
  /** Services it may call: a port on hostIp, and the instances that serve it now. */
  peers: Array<{ port: number; targets: Array<{ hostIf: string; address: string }> }>;
}

/** The host interfaces that must forward: callers with a peer that runs, and the instances they call. */
export function forwardingInterfaces(instances: RuledInstance[]): Set<string> {
  const out = new Set<string>();
  for (const i of instances) {
    for (const peer of i.peers) {
      if (peer.targets.length === 0) continue;
      out.add(i.hostIf);
      for (const t of peer.targets) out.add(t.hostIf);
    }
  }
  return out;
}

export const tableName = (tag: string): string => `cairn_${tag}`;

/** The nft script that replaces the workspace's table with the rules for `input`. */
export function renderRuleset(input: RulesInput): string {
  const table = tableName(input.tag);
  const ifs = `"${interfacePattern(input.tag)}"`;
  const { path, level } = input.gatewayCgroup;
  const peers = input.instances.flatMap((i) =>
    i.peers
      .filter((p) => p.targets.length > 0)
      .map((p) => {
        const map = p.targets.map((t, n) => `${n} : ${t.address.replace(':', ' . ')}`).join(', ');
        return `    iifname "${i.hostIf}" ip daddr ${i.hostIp} tcp dport ${p.port} dnat ip to numgen inc mod ${p.targets.length} map { ${map} }`;
      }),
  );
  const callers = input.instances
    .filter((i) => i.peers.some((p) => p.targets.length > 0))
    .map((i) => `    iifname "${i.hostIf}" ct status dnat accept`);
  const dnat = input.instances.flatMap((i) =>
    i.egressPorts.map(
      (port) =>
        `    iifname "${i.hostIf}" ip daddr ${i.hostIp} tcp dport ${port} dnat ip to 127.0.0.1:${port}`,
    ),
  );
  return [
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    `    oifname ${ifs} socket cgroupv2 level ${level} "${path}" accept`,
    `    oifname ${ifs} ct state established,related accept`,
    `    oifname ${ifs} meta l4proto tcp reject with tcp reset`,
    `    oifname ${ifs} reject`,
    '  }',
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    `    iifname ${ifs} ct state established,related accept`,
    `    iifname ${ifs} ct status dnat accept`,
    `    iifname ${ifs} meta l4proto tcp reject with tcp reset`,
    `    iifname ${ifs} drop`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    ...(callers.length > 0 ? [`    iifname ${ifs} ct state established,related accept`, ...callers] : []),
    `    iifname ${ifs} drop`,
    `    oifname ${ifs} drop`,
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority -100; policy accept;',
    ...dnat,
    ...peers,
    '  }',
    '}',
    '',
  ].join('\n');
}
