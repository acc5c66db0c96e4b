import { describe, expect, it } from 'vitest';
import { parseSpec } from '../spec/index.js';
import { identityPlan, renderIdentityPlan } from './index.js';

const service = (allow: string) => `
    build: { context: ./app, entrypoint: [node, server.js] }
    run: { port: 8080, network: { allow: [${allow}] } }`;
const spec = (identity: string) =>
  parseSpec(
    `project: shop
${identity}services:
  web:${service('orders, auth')}
  orders:${service('auth')}
  auth:${service('')}
environments:
  dev: { gateway: { listen: "127.0.0.1:9000" } }
`,
    'cairn.yaml',
    () => 'dir',
  ).spec!;

describe('identity plan', () => {
  it('is absent when identity is off', () => {
    expect(identityPlan(spec(''))).toBeUndefined();
  });

  it('lists who may call whom by SPIFFE ID, sorted, for review', () => {
    const plan = identityPlan(spec('identity: { svidTtlMs: 10m }\n'))!;
    expect(plan.calls).toEqual([
      { caller: 'orders', callee: 'auth' },
      { caller: 'web', callee: 'auth' },
      { caller: 'web', callee: 'orders' },
    ]);
    const text = renderIdentityPlan(plan);
    expect(text).toContain('identity: trust domain shop.cairn, SVIDs live 600s');
    expect(text).toContain(
      'web → orders    spiffe://shop.cairn/<env>/web may call spiffe://shop.cairn/<env>/orders',
    );
  });
});
