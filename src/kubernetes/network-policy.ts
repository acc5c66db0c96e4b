/**
 * A service's network paths as a NetworkPolicy, as plain data: its pods accept connections on
 * `run.port` only from the gateway (cairn's gateway pods, and the nodes, where the gateway of
 * `cairn up` and the kubelet's probes come from) and from the services that list it in their
 * `run.network.allow`; they connect only to the services they list in `run.network.allow` and to
 * the `run.network.egress` ports of the node (`127.0.0.1` on one machine is the node here).
 * Everything else is denied — by a CNI that enforces NetworkPolicy (the testbed's bridge does not).
 * Pure: no client, no I/O.
 */
import { LABEL, type Manifest } from './manifests.js';

/** Pods of cairn's in-cluster gateway carry this label (and value). */
export const COMPONENT_LABEL = 'cairn.dev/component';
export const GATEWAY_COMPONENT = 'gateway';

export interface NetworkPaths {
  service: string;
  env: string;
  namespace: string;
  port: number;
  /** Services this one may call (`run.network.allow`), with their ports. */
  allow: Array<{ service: string; port: number }>;
  /** Services whose `run.network.allow` lists this one. */
  callers: string[];
  /** `run.network.egress` entries (`127.0.0.1:PORT`): ports of the node. */
  egress: string[];
  /** The nodes' addresses (InternalIP), as `/32` or `/128` blocks. */
  nodeCidrs: string[];
}

export const networkPolicyName = (service: string): string =>
  `cairn-${service.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`.slice(0, 253);

export function networkPolicyManifest(p: NetworkPaths): Manifest {
  const pods = (service: string) => ({
    podSelector: { matchLabels: { [LABEL.service]: service, [LABEL.env]: p.env } },
  });
  const nodes = p.nodeCidrs.map((cidr) => ({ ipBlock: { cidr } }));
  const egressPorts = p.egress.map((e) => Number(e.slice(e.lastIndexOf(':') + 1)));
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: networkPolicyName(p.service),
      namespace: p.namespace,
      labels: { [LABEL.managedBy]: 'cairn', [LABEL.service]: p.service, [LABEL.env]: p.env },
    },
    spec: {
      podSelector: { matchLabels: { [LABEL.service]: p.service, [LABEL.env]: p.env } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [
            { podSelector: { matchLabels: { [COMPONENT_LABEL]: GATEWAY_COMPONENT } } },
            ...nodes,
            ...p.callers.map(pods),
          ],
          ports: [{ protocol: 'TCP', port: p.port }],
        },
      ],
      egress: [
        ...p.allow.map((a) => ({ to: [pods(a.service)], ports: [{ protocol: 'TCP', port: a.port }] })),
        ...(egressPorts.length > 0 && nodes.length > 0
          ? [{ to: nodes, ports: egressPorts.map((port) => ({ protocol: 'TCP', port })) }]
          : []),
      ],
    },
  };
}

/** A node address as a one-address block. */
export const hostCidr = (address: string): string =>
  address.includes(':') ? `${address}/128` : `${address}/32`;

/** The NetworkPolicy of a release's service, from its run settings (`port`, `network.egress`). */
export function releaseNetworkPolicy(
  release: { service: string; config: { run?: unknown } },
  at: { env: string; namespace: string; nodeCidrs: string[] },
  neighbours: Pick<NetworkPaths, 'allow' | 'callers'>,
): Manifest {
  const run = release.config.run as { port: number; network?: { egress?: string[] } };
  return networkPolicyManifest({
    service: release.service,
    ...at,
    port: run.port,
    ...neighbours,
    egress: run.network?.egress ?? [],
  });
}
