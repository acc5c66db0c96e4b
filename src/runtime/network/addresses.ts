/**
 * The addresses and names of isolated instances. Each workspace owns one /22 of 10.201.0.0/16 and
 * each of its instances one /30 in it: the host end of the instance's veth pair (.1) and the
 * instance (.2). Interface names carry the workspace's tag, so rules and cleanup find exactly its
 * own. Pure.
 */
import { createHash } from 'node:crypto';

/** The range cairn takes addresses from; used only inside the namespaces it creates. */
export const NETWORK_BASE = '10.201.0.0';
export const WORKSPACE_PREFIX = 22;
export const WORKSPACE_SUBNETS = 64;
/** /30 slots in a workspace's /22. */
export const SLOTS = 256;

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** A short tag naming a workspace's network objects: 6 hex of its runtime folder. */
export function workspaceTag(runtimeDir: string): string {
  return createHash('sha256').update(runtimeDir).digest('hex').slice(0, 6);
}

/** Subnet `index` (0–63) as `10.201.X.0/22`. */
export function subnetCidr(index: number): string {
  return `${intToIp(ipToInt(NETWORK_BASE) + index * 2 ** (32 - WORKSPACE_PREFIX))}/${WORKSPACE_PREFIX}`;
}

/** The instance's addresses in slot `slot` of subnet `index`. */
export function slotAddresses(index: number, slot: number): { hostIp: string; ip: string } {
  const base = ipToInt(NETWORK_BASE) + index * 2 ** (32 - WORKSPACE_PREFIX) + slot * 4;
  return { hostIp: intToIp(base + 1), ip: intToIp(base + 2) };
}

/** The host end of slot `slot`'s veth pair (at most 15 characters, as Linux allows). */
export const hostInterface = (tag: string, slot: number): string => `cx${tag}s${slot}`;
/** The instance end, before it is moved into the instance's namespace and renamed eth0. */
export const peerInterface = (tag: string, slot: number): string => `cy${tag}s${slot}`;
/** Every host interface of a workspace matches this nftables wildcard. */
export const interfacePattern = (tag: string): string => `cx${tag}s*`;

/** The lowest free slot, or undefined when all are taken. */
export function freeSlot(taken: Iterable<number>): number | undefined {
  const used = new Set(taken);
  for (let slot = 0; slot < SLOTS; slot++) if (!used.has(slot)) return slot;
  return undefined;
}

/** Ports on an instance's host address that stand for the services it may call (allow[i] → base + i). */
export const PEER_PORT_BASE = 40000;
export const peerPort = (index: number): number => PEER_PORT_BASE + index;
/** The variable that tells an instance where an allowed service is: `CAIRN_SERVICE_<NAME>`. */
export const serviceVar = (service: string): string =>
  `CAIRN_SERVICE_${service.toUpperCase().replace(/-/g, '_')}`;
