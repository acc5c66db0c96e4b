import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthFailures, type Principal } from '../auth/index.js';
import { ApiServer } from './api-server.js';

const TOKEN = 't'.repeat(43);
const USERS: Record<string, Principal> = {
  cairn_viewer: { name: 'vera', role: 'viewer', actor: 'vera@api' },
  cairn_operator: { name: 'olga', role: 'operator', actor: 'olga@api' },
};

let api: ApiServer;
let url: string;
let actors: string[];

beforeEach(async () => {
  actors = [];
  api = new ApiServer(TOKEN, new AuthFailures(3, 60_000), (t) => USERS[t])
    .on('GET', '/v1/status', (r) => ({ who: r.principal.actor }))
    .on('GET', '/v1/deployments/:id', (r) => ({ id: r.params.id }))
    .on('POST', '/v1/rollback', (r) => {
      actors.push(r.principal.actor);
      return {};
    })
    .on('POST', '/v1/shutdown', () => ({ stopping: true }), { workspaceOnly: true });
  url = await api.listen(0);
});
afterEach(() => api.close());

const call = (method: string, path: string, token?: string) =>
  fetch(`${url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('the API: who may call what', () => {
  it('answers 401 without a known token and tallies it; nothing runs', async () => {
    expect((await call('GET', '/v1/status')).status).toBe(401);
    expect((await call('POST', '/v1/rollback', 'cairn_nobody')).status).toBe(401);
    expect(api.authFailures.drain()).toEqual([
      expect.objectContaining({
        remote: '127.0.0.1',
        count: 2,
        throttled: 0,
        paths: ['/v1/status', '/v1/rollback'],
      }),
    ]);
    expect(actors).toEqual([]);
  });

  it('answers 429 with Retry-After once a client failed too often, while valid tokens still work', async () => {
    for (let i = 0; i < 3; i++) expect((await call('GET', '/v1/status', 'wrong')).status).toBe(401);
    const refused = await call('POST', '/v1/rollback', 'wrong');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
      /too many failed attempts from this address; try again in \d+ s/,
    );
    expect((await call('POST', '/v1/rollback', 'cairn_operator')).status).toBe(200);
    expect(actors).toEqual(['olga@api']);
    expect(api.authFailures.drain()).toEqual([expect.objectContaining({ count: 4, throttled: 1 })]);
  });

  it('lets a viewer read but not act, an operator act under its own name, and only the workspace token stop it', async () => {
    expect(await (await call('GET', '/v1/status', 'cairn_viewer')).json()).toEqual({ who: 'vera@api' });
    const refused = await call('POST', '/v1/rollback', 'cairn_viewer');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
      'may only read',
    );
    expect((await call('POST', '/v1/rollback', 'cairn_operator')).status).toBe(200);
    expect((await call('POST', '/v1/rollback', TOKEN)).status).toBe(200);
    expect(actors).toEqual(['olga@api', 'api']);
    expect((await call('POST', '/v1/shutdown', 'cairn_operator')).status).toBe(403);
    expect((await call('POST', '/v1/shutdown', TOKEN)).status).toBe(200);
  });
});

describe('the API: request paths', () => {
  it('answers 400, not 500, to a malformed percent-encoding anywhere in the path, and decodes a good one', async () => {
    for (const path of ['/v1/deployments/%E0%A4%A', '/v1/deployments/%ZZ', '/v1/st%E0tus']) {
      const res = await call('GET', path, TOKEN);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
        'malformed percent-encoding',
      );
    }
    const good = await call('GET', '/v1/deployments/dep%2D%E0%A4%A4', TOKEN);
    expect(await good.json()).toEqual({ id: 'dep-\u0924' });
  });
});
