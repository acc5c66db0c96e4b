import { describe, expect, it } from 'vitest';
import { NEEDED, NEEDED_FOR_GATEWAY } from './doctor.js';

describe('the RBAC cairn doctor checks', () => {
  it('lists no verb of the environment namespace twice (a missing verb is reported once)', () => {
    const base = new Set(
      NEEDED.filter(([, , , clusterScoped]) => !clusterScoped).flatMap(([group, resource, verbs]) =>
        verbs.split(' ').map((v) => `${group}/${resource} ${v}`),
      ),
    );
    const again = NEEDED_FOR_GATEWAY.filter(([, , , inGateway]) => !inGateway).flatMap(
      ([group, resource, verbs]) =>
        verbs
          .split(' ')
          .map((v) => `${group}/${resource} ${v}`)
          .filter((key) => base.has(key)),
    );
    expect(again).toEqual([]);
  });
});
