/** The gateway pools of a service, from what should serve and the healthy instances. Pure. */
import type { Pool } from '../gateway/index.js';
import type { InstanceRecord, ServingRecord } from '../state/index.js';

/**
 * The gateway pools of a service: the weighted releases, then every other release that still has
 * instances (one kept warm after a switch) at weight 0 — no new client reaches it, but a pin header
 * naming it does, which is how a tester compares with the previous release while it is warm.
 */
export function poolsOf(
  serving: ServingRecord,
  healthy: InstanceRecord[],
  tlsOf: (release: string) => Pool['tls'] = () => undefined,
): Pool[] {
  const endpoints = (release: string) =>
    healthy
      .filter((i) => i.releaseId === release && i.endpoint)
      .map((i) => ({ id: i.id, address: i.endpoint! }));
  const weighted = new Set(serving.weights.map((w) => w.release));
  const warm = Object.entries(serving.replicas)
    .filter(([release, n]) => n > 0 && !weighted.has(release))
    .map(([release]) => ({ release, weight: 0, role: 'stable' as const, endpoints: endpoints(release) }));
  const pools = [...serving.weights.map((w) => ({ ...w, endpoints: endpoints(w.release) })), ...warm];
  return pools.map((p) => {
    const tls = tlsOf(p.release);
    return tls ? { ...p, tls } : p;
  });
}
