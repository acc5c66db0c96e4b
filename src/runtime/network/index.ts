/** Isolated instance networking: a namespace per instance, a veth pair to the host, rules that let only the gateway in. */
export {
  freeSlot,
  hostInterface,
  PEER_PORT_BASE,
  peerPort,
  SLOTS,
  serviceVar,
  slotAddresses,
  subnetCidr,
  workspaceTag,
} from './addresses.js';
export { HostNetwork, hostNetworkSupport, type InstanceNetwork, toolPath } from './host-network.js';
export {
  forwardingInterfaces,
  type RuledInstance,
  type RulesInput,
  renderRuleset,
  tableName,
} from './ruleset.js';
