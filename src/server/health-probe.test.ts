import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createTcp } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeHealth } from './health-probe.js';

const servers: Array<{ close(): unknown }> = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function listen(server: Server | ReturnType<typeof createTcp>): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}
const http = (status: number) => listen(createHttp((_q, s) => s.writeHead(status).end()));
const base = { path: '/healthz', timeoutMs: 500 };

describe('probeHealth', () => {
  it('takes 2xx and 3xx, and names the address and status of a failure', async () => {
    expect(await probeHealth(await http(204), base)).toEqual({ ok: true });
    expect(await probeHealth(await http(302), base)).toEqual({ ok: true });
    const at = await http(404);
    expect(await probeHealth(at, base)).toEqual({ ok: false, error: `GET http://${at}/healthz: status 404` });
  });

  it('takes any status up to maxStatus (an app without /healthz)', async () => {
    expect(await probeHealth(await http(404), { ...base, maxStatus: 499 })).toEqual({ ok: true });
    expect((await probeHealth(await http(500), { ...base, maxStatus: 499 })).ok).toBe(false);
  });

  it('says "connection refused" when nothing listens, and names the timeout', async () => {
    const at = await http(200);
    servers.pop()?.close();
    await new Promise((r) => setTimeout(r, 50));
    expect((await probeHealth(at, base)).error).toBe(
      `GET http://${at}/healthz: connection refused (nothing listens on that port)`,
    );
    const silent = await listen(createTcp(() => {}));
    expect((await probeHealth(silent, { ...base, timeoutMs: 100 })).error).toBe(
      `GET http://${silent}/healthz: no answer within 100 ms`,
    );
  });

  it('with tcp, only needs the connection accepted', async () => {
    const raw = await listen(createTcp((c) => c.on('error', () => {}).end('not http\n')));
    expect(await probeHealth(raw, { ...base, tcp: true })).toEqual({ ok: true });
    servers.pop()?.close();
    await new Promise((r) => setTimeout(r, 50));
    expect((await probeHealth(raw, { ...base, tcp: true })).error).toMatch(
      /^TCP connect .*: connection refused/,
    );
  });
});
