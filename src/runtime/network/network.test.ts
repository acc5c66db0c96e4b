import { describe, expect, it } from 'vitest';
import {
  forwardingInterfaces,
  freeSlot,
  hostInterface,
  renderRuleset,
  SLOTS,
  slotAddresses,
  subnetCidr,
  workspaceTag,
} from './index.js';

describe('instance addresses', () => {
  it('gives each workspace a /22 of 10.201.0.0/16 and each instance a /30 in it', () => {
    expect(subnetCidr(0)).toBe('10.201.0.0/22');
    expect(subnetCidr(63)).toBe('10.201.252.0/22');
    expect(slotAddresses(0, 0)).toEqual({ hostIp: '10.201.0.1', ip: '10.201.0.2' });
    expect(slotAddresses(2, 255)).toEqual({ hostIp: '10.201.11.253', ip: '10.201.11.254' });
  });

  it('names interfaces within the 15 characters Linux allows, tagged by workspace', () => {
    const tag = workspaceTag('/srv/app/.cairn/runtime');
    expect(tag).toMatch(/^[0-9a-f]{6}$/);
    expect(hostInterface(tag, SLOTS - 1).length).toBeLessThanOrEqual(15);
    expect(workspaceTag('/srv/other/.cairn/runtime')).not.toBe(tag);
  });

  it('takes the lowest free slot and says when none is left', () => {
    expect(freeSlot([0, 1, 3])).toBe(2);
    expect(freeSlot(Array.from({ length: SLOTS }, (_, i) => i))).toBeUndefined();
  });
});

describe('calls between services (run.network.allow)', () => {
  const caller = {
    hostIf: 'cxabc123s0',
    hostIp: '10.201.0.1',
    egressPorts: [],
    peers: [
      {
        port: 40000,
        targets: [
          { hostIf: 'cxabc123s1', address: '10.201.0.6:8080' },
          { hostIf: 'cxabc123s2', address: '10.201.0.10:8081' },
        ],
      },
      { port: 40001, targets: [] },
    ],
  };
  const callee = (n: number) => ({
    hostIf: `cxabc123s${n}`,
    hostIp: `10.201.0.${4 * n + 1}`,
    egressPorts: [],
    peers: [],
  });
  const rules = renderRuleset({
    tag: 'abc123',
    gatewayCgroup: { path: 'cairn-gw-abc123', level: 1 },
    instances: [caller, callee(1), callee(2)],
  });

  it('spreads a caller port over the allowed instances, and forwards only those calls and their replies', () => {
    expect(rules).toContain(
      'iifname "cxabc123s0" ip daddr 10.201.0.1 tcp dport 40000 dnat ip to numgen inc mod 2 map { 0 : 10.201.0.6 . 8080, 1 : 10.201.0.10 . 8081 }',
    );
    expect(rules).not.toContain('dport 40001');
    const forward = rules.slice(rules.indexOf('chain forward'), rules.indexOf('chain prerouting'));
    expect(forward.indexOf('iifname "cxabc123s0" ct status dnat accept')).toBeLessThan(
      forward.indexOf('drop'),
    );
    expect(forward).not.toContain('iifname "cxabc123s1" ct status dnat accept');
  });

  it('turns forwarding on only for the interfaces of calls that can happen', () => {
    expect([...forwardingInterfaces([caller, callee(1), callee(2), callee(3)])].sort()).toEqual([
      'cxabc123s0',
      'cxabc123s1',
      'cxabc123s2',
    ]);
  });
});

describe('the workspace firewall', () => {
  const rules = renderRuleset({
    tag: 'abc123',
    gatewayCgroup: { path: 'unified/cairn-gw-abc123', level: 1 },
    instances: [
      { hostIf: 'cxabc123s0', hostIp: '10.201.0.1', egressPorts: [], peers: [] },
      { hostIf: 'cxabc123s1', hostIp: '10.201.0.5', egressPorts: [5432, 6379], peers: [] },
    ],
  });

  it('replaces the table atomically and lets only the gateway cgroup open connections to instances', () => {
    expect(rules.startsWith('table inet cairn_abc123\ndelete table inet cairn_abc123\n')).toBe(true);
    const output = rules.slice(rules.indexOf('chain output'), rules.indexOf('chain input'));
    expect(output.indexOf('socket cgroupv2 level 1 "unified/cairn-gw-abc123" accept')).toBeLessThan(
      output.indexOf('reject with tcp reset'),
    );
  });

  it('forwards only the listed host ports of each instance, and nothing between instances', () => {
    expect(rules).toContain(
      'iifname "cxabc123s1" ip daddr 10.201.0.5 tcp dport 5432 dnat ip to 127.0.0.1:5432',
    );
    expect(rules).toContain('tcp dport 6379 dnat ip to 127.0.0.1:6379');
    expect(rules).not.toContain('iifname "cxabc123s0" ip daddr');
    const forward = rules.slice(rules.indexOf('chain forward'), rules.indexOf('chain prerouting'));
    expect(forward).toContain('iifname "cxabc123s*" drop');
    expect(forward).toContain('oifname "cxabc123s*" drop');
  });
});
