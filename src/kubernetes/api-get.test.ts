import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiGetter } from './api-get.js';

describe('ApiGetter (pod proxy reads of the in-cluster gateway)', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ path: string; authorization: string | undefined }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
      if (req.url?.endsWith('/_cairn/status')) return res.end('{"version":3}');
      if (req.url?.endsWith('/slow')) return;
      res.writeHead(503);
      res.end('no endpoints available');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it("keeps the path of a server behind a proxy, with the kubeconfig's credential", async () => {
    const getter = new ApiGetter(`${base}/k8s/clusters/c1/`, async () => ({
      headers: { authorization: 'Bearer t0k' },
    }));
    const path = '/api/v1/namespaces/gw/pods/gw-1:9464/proxy/_cairn/status';
    expect(await getter.json(path, 2_000)).toEqual({ version: 3 });
    expect(seen.at(-1)).toEqual({ path: `/k8s/clusters/c1${path}`, authorization: 'Bearer t0k' });
    getter.close();
  });

  it('throws the status of an answer other than 200, and a timeout', async () => {
    const getter = new ApiGetter(base, async () => ({}));
    await expect(getter.json('/api/v1/other', 2_000)).rejects.toMatchObject({
      code: 503,
      message: 'GET /api/v1/other: 503',
    });
    await expect(getter.json('/api/v1/slow', 100)).rejects.toThrow('GET /api/v1/slow: no answer in 100 ms');
    getter.close();
  });
});
