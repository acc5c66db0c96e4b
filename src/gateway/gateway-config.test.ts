import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LoadedSpec } from '../spec/types.js';
import { gatewayConfigFor, loadGatewayRoutes } from './gateway-config.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-gw-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const publicKey = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};

describe('loadGatewayRoutes', () => {
  it('reads the JWKS file relative to cairn.yaml and resolves the HS256 secret by name', async () => {
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [publicKey] }));
    const routes = await loadGatewayRoutes(
      [
        {
          host: '*',
          path: '/',
          service: 'web',
          auth: { jwks: 'jwks.json', secret: 'JWT_KEY', audience: 'shop' },
        },
      ],
      dir,
      (name) => (name === 'JWT_KEY' ? 'the-secret' : ''),
    );
    expect(routes[0]!.auth?.jwks?.keys).toEqual([publicKey]);
    expect(new TextDecoder().decode(routes[0]!.auth?.secret)).toBe('the-secret');
    expect(routes[0]!.auth?.audience).toBe('shop');
  });

  it('refuses a missing file, a private key and an unresolvable secret', async () => {
    const route = (auth: object) => [{ host: '*', path: '/', service: 'web', auth }];
    await expect(loadGatewayRoutes(route({ jwks: 'nope.json' }), dir)).rejects.toThrow(
      /read JWKS file .*no such file/,
    );
    writeFileSync(join(dir, 'private.json'), JSON.stringify({ keys: [{ ...publicKey, d: 'secret' }] }));
    await expect(loadGatewayRoutes(route({ jwks: 'private.json' }), dir)).rejects.toThrow(
      /contains a private key/,
    );
    await expect(loadGatewayRoutes(route({ secret: 'K' }), dir)).rejects.toThrow(
      /secret K cannot be resolved/,
    );
  });
});

describe('gatewayConfigFor', () => {
  const loaded = {
    file: 'cairn.yaml',
    dir,
    digest: 'sha256:0',
    spec: {
      project: 'p',
      services: {},
      environments: {
        dev: {
          approval: false,
          driver: 'auto',
          gateway: { listen: '127.0.0.1:8080', pinHeader: false, engine: 'builtin' },
          trust: { keys: [] },
          policies: [],
        },
      },
      routes: [{ host: '*', path: '/', service: 'web' }],
    },
    root: dir,
  } as LoadedSpec;

  it('takes the listener, pin setting and engine of the environment', async () => {
    const config = await gatewayConfigFor(loaded, 'dev');
    expect(config).toMatchObject({
      listen: '127.0.0.1:8080',
      pinHeader: false,
      engine: 'builtin',
      routes: [{ service: 'web' }],
    });
  });

  it('takes the per-client connection cap when the environment sets one', async () => {
    expect((await gatewayConfigFor(loaded, 'dev')).limits).toBeUndefined();
    const dev = loaded.spec.environments.dev!;
    const capped = {
      ...loaded,
      spec: {
        ...loaded.spec,
        environments: { dev: { ...dev, gateway: { ...dev.gateway, maxConnectionsPerClient: 2000 } } },
      },
    } as LoadedSpec;
    expect((await gatewayConfigFor(capped, 'dev', { limits: { idleTimeoutMs: 5 } })).limits).toEqual({
      idleTimeoutMs: 5,
      maxConnectionsPerClient: 2000,
    });
  });

  it('names the environments there are when asked for another', async () => {
    await expect(gatewayConfigFor(loaded, 'prod')).rejects.toThrow(/environment prod is not in cairn.yaml/);
  });
});
