/**
 * Runbook: from cairn.yaml to a running gateway.
 * Given a cairn.yaml whose route requires RS256 JWTs from a JWKS file and whose environment turns
 * pinning off,
 * when the gateway is configured from that environment,
 * then tokens from the issuer's key pass, others get 401, and the pin header is ignored.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Pool as HttpPool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGateway,
  type Gateway,
  type GatewayEngine,
  gatewayConfigFor,
} from '../../src/gateway/index.js';
import { type EchoBackend, startEchoBackend } from '../../src/gateway/testing/echo-backend.js';
import { loadSpec } from '../../src/spec/index.js';

const spec = (engine: GatewayEngine) => `project: shop
services:
  web:
    build: { context: ./app, base: "host:node", entrypoint: [node, server.js] }
    run: { port: 8080 }
environments:
  prod: { gateway: { listen: "127.0.0.1:18080", pinHeader: false, engine: ${engine} } }
routes:
  - host: "*"
    path: /
    service: web
    auth: { jwks: keys/jwks.json, issuer: "https://login.test", audience: shop }
`;

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let dir: string;
let issuerKey: KeyPair;
let stable: EchoBackend;
let canary: EchoBackend;
let gateway: Gateway;
let http: HttpPool;

const token = (key: KeyPair['privateKey'], alg = 'RS256') =>
  new SignJWT({ sub: 'alice' })
    .setProtectedHeader({ alg, kid: 'k1' })
    .setIssuer('https://login.test')
    .setAudience('shop')
    .setExpirationTime('5m')
    .sign(key);

async function get(headers: Record<string, string>) {
  const res = await http.request({ path: '/', method: 'GET', headers });
  await res.body.dump();
  return { status: res.statusCode, release: res.headers['x-release'] };
}

describe.each(['builtin', 'haproxy'] as GatewayEngine[])(
  'gateway (%s engine) configured from cairn.yaml',
  (engine) => {
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cairn-gw-spec-'));
      issuerKey = await generateKeyPair('RS256');
      mkdirSync(join(dir, 'app'));
      writeFileSync(join(dir, 'app', 'server.js'), '');
      mkdirSync(join(dir, 'keys'));
      const jwk = { ...(await exportJWK(issuerKey.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
      writeFileSync(join(dir, 'keys', 'jwks.json'), JSON.stringify({ keys: [jwk] }));
      writeFileSync(join(dir, 'cairn.yaml'), spec(engine));
      stable = await startEchoBackend('rel-stable', 'ins-s');
      canary = await startEchoBackend('rel-canary', 'ins-c');

      const config = await gatewayConfigFor(loadSpec(join(dir, 'cairn.yaml')), 'prod');
      expect(config.listen).toBe('127.0.0.1:18080');
      expect(config.engine).toBe(engine);
      gateway = createGateway({ ...config, listen: '127.0.0.1:0' }); // a free port: tests run side by side
      http = new HttpPool(`http://${await gateway.listen()}`);
      await gateway.setPools('web', [
        { release: 'rel-stable', weight: 100, endpoints: [{ id: stable.id, address: stable.address }] },
        { release: 'rel-canary', weight: 0, endpoints: [{ id: canary.id, address: canary.address }] },
      ]);
    });

    afterAll(async () => {
      await http?.close();
      await gateway?.close(1000);
      await Promise.all([stable?.kill(), canary?.kill()]);
      rmSync(dir, { recursive: true, force: true });
    });

    describe('requests', () => {
      it('accepts RS256 tokens signed by the key in the JWKS file', async () => {
        expect(await get({ authorization: `Bearer ${await token(issuerKey.privateKey)}` })).toEqual({
          status: 200,
          release: 'rel-stable',
        });
      });

      it('refuses tokens from any other key, and requests without one', async () => {
        const stranger = await generateKeyPair('RS256');
        expect((await get({ authorization: `Bearer ${await token(stranger.privateKey)}` })).status).toBe(401);
        expect((await get({})).status).toBe(401);
      });

      it('ignores x-cairn-release where the environment sets pinHeader: false', async () => {
        const auth = `Bearer ${await token(issuerKey.privateKey)}`;
        expect(await get({ authorization: auth, 'x-cairn-release': 'canary' })).toEqual({
          status: 200,
          release: 'rel-stable',
        });
      });
    });
  },
);
