import { describe, expect, it } from 'vitest';
import { type EdgeView, planEdge, renderEdgePlan, routeView } from './edge-plan.js';

const route = (path: string, service: string, extra = {}) =>
  routeView({ host: '*', path, service, ...extra });
const edge = (routes = [route('/', 'web')], listen = '127.0.0.1:8080'): EdgeView => ({
  listen,
  engine: 'builtin',
  pinHeader: true,
  routes,
});
const idle = () => false;

describe('planEdge', () => {
  it('says nothing when the gateways serve what the spec says', () => {
    const plan = planEdge({ dev: edge() }, { dev: edge() }, idle);
    expect(plan).toEqual({ changes: [], refusals: [] });
    expect(renderEdgePlan(plan)).toMatch(/^No edge changes/);
  });

  it('creates, replaces and destroys routes by host and path', () => {
    const plan = planEdge(
      { dev: edge([route('/', 'web'), route('/old', 'web')]) },
      { dev: edge([route('/', 'web', { rateLimit: { rps: 5 } }), route('/api', 'api')]) },
      idle,
    );
    expect(plan.changes.map((c) => `${c.action} ${c.what === 'route' ? c.route.path : c.what}`)).toEqual([
      'replace /',
      'create /api',
      'destroy /old',
    ]);
    const text = renderEdgePlan(plan);
    expect(text).toContain('-/+ route (dev) */ → web {"rateLimit":{"rps":5}}');
    expect(text).toContain('+   route (dev) */api → api');
    expect(text).toContain('-   route (dev) */old → web');
  });

  it('shows key material only as a digest, and a new key as a replacement', () => {
    const a = route('/', 'web', { auth: { secret: new Uint8Array([1, 2, 3]), issuer: 'me' } });
    const b = route('/', 'web', { auth: { secret: new Uint8Array([1, 2, 4]), issuer: 'me' } });
    expect(JSON.stringify(a)).not.toContain('AQID');
    expect(planEdge({ dev: edge([a]) }, { dev: edge([b]) }, idle).changes).toHaveLength(1);
  });

  it('starts a gateway for a new environment and stops one the spec dropped, unless it is busy', () => {
    const plan = planEdge({ dev: edge(), old: edge([], ':1') }, { dev: edge(), prod: edge([], ':2') }, idle);
    expect(plan.changes.map((c) => `${c.action} ${c.what} ${c.env}`)).toEqual([
      'create gateway prod',
      'destroy gateway old',
    ]);
    const busy = planEdge({ dev: edge(), old: edge([], ':1') }, { dev: edge() }, (env) => env === 'old');
    expect(busy.refusals[0]!.message).toBe('environment old left cairn.yaml but instances still run there');
  });

  it('refuses to move a running listener', () => {
    const plan = planEdge({ dev: edge() }, { dev: edge(undefined, '127.0.0.1:9090') }, idle);
    expect(plan.refusals[0]!.message).toContain('listen changed (127.0.0.1:8080 → 127.0.0.1:9090)');
  });
});
