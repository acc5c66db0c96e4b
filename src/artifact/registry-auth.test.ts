import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { parseChallenge } from './registry-auth.js';
import { RegistryClient } from './registry-client.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;
let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(null)));
  server = undefined;
});

/** A registry that wants a bearer token from its own token service, which wants basic credentials. */
async function tokenRegistry(seen: string[]): Promise<number> {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      seen.push(
        `token ${url.searchParams.get('service')} ${url.searchParams.get('scope')} ${req.headers.authorization}`,
      );
      const ok = req.headers.authorization === `Basic ${Buffer.from('ann:pw').toString('base64')}`;
      res
        .writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
        .end(ok ? '{"token":"t0k"}' : '{}');
      return;
    }
    if (req.headers.authorization !== 'Bearer t0k') {
      const { port } = server!.address() as { port: number };
      res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="reg",scope="repository:hello:pull"`,
        })
        .end();
      return;
    }
    res.writeHead(url.pathname === `/v2/hello/blobs/${DIGEST}` ? 200 : 404).end();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server!.address() as { port: number }).port;
}

describe('registry authentication', () => {
  it('parses bearer and basic challenges', () => {
    expect(
      parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"'),
    ).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a:pull' },
    });
    expect(parseChallenge('Basic realm="x"')?.scheme).toBe('basic');
    expect(parseChallenge(null)).toBeUndefined();
  });

  it('answers a bearer challenge with a token fetched using the credentials, then reuses it', async () => {
    const seen: string[] = [];
    const port = await tokenRegistry(seen);
    const client = new RegistryClient({
      registry: `127.0.0.1:${port}`,
      insecure: true,
      credentials: { username: 'ann', password: 'pw' },
    });
    expect(await client.hasBlob('hello', DIGEST, 'checking')).toBe(true);
    expect(await client.hasBlob('hello', `sha256:${'00'.repeat(32)}`, 'checking')).toBe(false);
    expect(seen).toEqual([
      `token reg repository:hello:pull Basic ${Buffer.from('ann:pw').toString('base64')}`,
    ]);
  });

  it('says what to set when the token service refuses', async () => {
    const port = await tokenRegistry([]);
    const client = new RegistryClient({
      registry: `127.0.0.1:${port}`,
      insecure: true,
      credentials: { username: 'ann', password: 'wrong' },
    });
    await expect(client.hasBlob('hello', DIGEST, 'checking hello')).rejects.toThrow(
      /checking hello: the token service answered 401/,
    );
  });
});
