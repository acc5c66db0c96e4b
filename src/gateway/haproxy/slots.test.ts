import { describe, expect, it } from 'vitest';
import type { Pool } from '../types.js';
import { POOL_SLOTS, SlotTable } from './slots.js';

const files = { split: '/run/gw/split.map', pin: '/run/gw/pin.map' };
const pool = (release: string, weight: number, ...ids: string[]): Pool => ({
  release,
  weight,
  endpoints: ids.map((id) => ({ id, address: `127.0.0.1:${9000 + Number(id.replace(/\D/g, ''))}` })),
});

describe('SlotTable', () => {
  it('adds a server per endpoint before switching the split, then drains the ones no pool names', () => {
    const t = new SlotTable(['web'], files);
    expect(t.apply('web', [pool('rel-a', 100, 'ins-1')])).toEqual([
      'add server web.p0/e1 127.0.0.1:9001',
      'enable server web.p0/e1',
      'add map /run/gw/split.map web 1:x:0:0:0:0:10000:x:-1:x:-1:x:-1',
      'add map /run/gw/pin.map web/rel-a 0',
      'add map /run/gw/pin.map web/stable 0',
    ]);
    const next = t.apply('web', [pool('rel-a', 80, 'ins-1'), pool('rel-b', 20, 'ins-2')]);
    expect(next.slice(0, 2)).toEqual(['add server web.p1/e2 127.0.0.1:9002', 'enable server web.p1/e2']);
    // The canary owns the bottom 20% of the split range; each slot falls back to the first other weighted one.
    expect(next[2]).toBe('set map /run/gw/split.map web 2:1:0:1:1:1:2000:0:10000:x:-1:x:-1');
    const last = t.apply('web', [pool('rel-b', 100, 'ins-2')]);
    expect(last.at(-1)).toBe('set server web.p0/e1 state drain');
    expect(t.draining()).toEqual([{ backend: 'web.p0', server: 'e1', endpointId: 'ins-1' }]);
  });

  it('is one atomic map change per weight flip', () => {
    const t = new SlotTable(['web'], files);
    t.apply('web', [pool('rel-a', 100, 'ins-1'), pool('rel-b', 0, 'ins-2')]);
    const flip = t.apply('web', [pool('rel-a', 0, 'ins-1'), pool('rel-b', 100, 'ins-2')]);
    expect(flip.filter((c) => c.includes('split.map'))).toHaveLength(1);
    expect(flip.some((c) => c.includes(' server '))).toBe(false);
  });

  it('deletes a drained server and never reuses its name, so no old connection serves a new release', () => {
    const t = new SlotTable(['web'], files);
    t.apply('web', [pool('rel-a', 100, 'ins-1')]);
    t.apply('web', [pool('rel-b', 100, 'ins-2')]);
    expect(t.origin('web.p0', 'e1')).toEqual({ release: 'rel-a', endpoint: 'ins-1' });
    expect(t.holds('ins-1')).toBe(true);
    expect(t.free('web.p0', 'e1')).toEqual(['disable server web.p0/e1', 'del server web.p0/e1']);
    expect(t.holds('ins-1')).toBe(false);
    // The freed backend takes the next new release, with a server of a new name.
    expect(t.apply('web', [pool('rel-b', 50, 'ins-2'), pool('rel-c', 50, 'ins-3')]).slice(0, 1)).toEqual([
      'add server web.p0/e3 127.0.0.1:9003',
    ]);
    // Log lines that arrive after the delete still name the right release.
    expect(t.origin('web.p0', 'e1')).toEqual({ release: 'rel-a', endpoint: 'ins-1' });
    expect(t.origin('web.p0', 'e3')).toEqual({ release: 'rel-c', endpoint: 'ins-3' });
  });

  it('cuts the streams first when a drain timed out', () => {
    const t = new SlotTable(['web'], files);
    t.apply('web', [pool('rel-a', 100, 'ins-1')]);
    t.drainEndpoint('ins-1');
    expect(t.free('web.p0', 'e1', true)).toContain('shutdown sessions server web.p0/e1');
  });

  it('brings a draining endpoint back when a pool names it again', () => {
    const t = new SlotTable(['web'], files);
    t.apply('web', [pool('rel-a', 100, 'ins-1', 'ins-2')]);
    expect(t.drainEndpoint('ins-2')).toEqual(['set server web.p0/e2 state drain']);
    expect(t.apply('web', [pool('rel-a', 100, 'ins-1', 'ins-2')])).toEqual([
      'set server web.p0/e2 state ready',
    ]);
    expect(t.draining()).toEqual([]);
  });

  it('gives an endpoint whose address changed a new server and drains the old one', () => {
    const t = new SlotTable(['web'], files);
    t.apply('web', [pool('rel-a', 100, 'ins-1')]);
    const moved = { release: 'rel-a', weight: 100, endpoints: [{ id: 'ins-1', address: '127.0.0.1:7000' }] };
    expect(t.apply('web', [moved])).toEqual([
      'add server web.p0/e2 127.0.0.1:7000',
      'enable server web.p0/e2',
      'set server web.p0/e1 state drain',
    ]);
  });

  it('refuses more releases than slots and changes nothing', () => {
    const t = new SlotTable(['web'], files);
    const many = Array.from({ length: POOL_SLOTS }, (_, i) => pool(`rel-${i}`, 25, `ins-${i + 1}`));
    t.apply('web', many);
    expect(() => t.apply('web', [pool('rel-new', 100, 'ins-9')])).toThrow(/more than 4 releases/);
    expect(t.mapText('split')).toBe('web 4:1:2:1:1:1:2500:2:5000:3:7500:0:10000\n');
  });

  it('refuses more than 32 endpoints for one release', () => {
    const t = new SlotTable(['web'], files);
    const ids = Array.from({ length: 33 }, (_, i) => `ins-${i + 1}`);
    expect(() => t.apply('web', [pool('rel-a', 100, ...ids)])).toThrow(/more than 32 endpoints/);
    expect(t.mapText('split')).toBe('');
  });

  it('routes a pin to a release at weight 0 and forgets pins of releases that left', () => {
    const t = new SlotTable(['web'], files);
    t.apply('web', [pool('rel-a', 100, 'ins-1'), pool('rel-b', 0, 'ins-2')]);
    expect(t.mapText('pin')).toBe('web/rel-b 1\nweb/rel-a 0\nweb/stable 0\nweb/canary 1\n');
    const commands = t.apply('web', [pool('rel-a', 100, 'ins-1')]);
    expect(commands).toContain('del map /run/gw/pin.map web/rel-b');
    expect(commands).toContain('del map /run/gw/pin.map web/canary');
  });

  it('keeps no pin map where the environment ignores the pin header', () => {
    const t = new SlotTable(['web'], { split: files.split });
    expect(t.apply('web', [pool('rel-a', 100, 'ins-1')]).some((c) => c.includes('pin'))).toBe(false);
    expect(t.mapText('pin')).toBe('');
  });

  it('removes the split of a service whose pools are emptied, and ignores services with no route', () => {
    const t = new SlotTable(['web'], files);
    t.apply('web', [pool('rel-a', 100, 'ins-1')]);
    expect(t.apply('web', [])).toContain('del map /run/gw/split.map web');
    expect(t.apply('other', [pool('rel-a', 100, 'ins-1')])).toEqual([]);
  });

  it('lists the ready servers for a restarted HAProxy, without the draining ones', () => {
    const t = new SlotTable(['web'], files);
    t.apply('web', [pool('rel-a', 100, 'ins-1', 'ins-2')]);
    t.drainEndpoint('ins-2');
    t.forgetDraining();
    expect(t.readyServers('web', 0)).toEqual([{ name: 'e1', address: '127.0.0.1:9001' }]);
    expect(t.holds('ins-2')).toBe(false);
  });
});
