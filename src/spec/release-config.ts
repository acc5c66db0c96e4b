/** The part of a service's spec that defines a release: what is built and how it runs. Pure. */
import type { Spec } from './types.js';

export interface ReleaseConfig {
  build: Record<string, unknown>;
  run: Record<string, unknown>;
}

/** The release-defining settings of one service; deploy settings steer a rollout, not a release. */
export function releaseConfig(spec: Spec, service: string): ReleaseConfig {
  const s = spec.services[service];
  if (!s) throw new RangeError(`no service ${service}`);
  return { build: { ...s.build }, run: { ...s.run } };
}
