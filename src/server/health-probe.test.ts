import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttp, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createWorkloadCa, issueGatewayCertificate, issueSvid, loadWorkloadCa } from '../identity/index.js';
import { finalStatus, probeHealth } from './health-probe.js';

const servers: Array<{ close(): unknown }> = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

async function listen(server: Server | ReturnType<typeof createTcp>): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}
const http = (status: number) => listen(createHttp((_q, s) => s.writeHead(status).end()));
/** A TCP server that answers each connection with `answer` (bytes written one by one with `slowly`). */
const raw = (answer: string, opts: { slowly?: boolean; close?: boolean } = {}) =>
  listen(
    createTcp((c) => {
      sockets.push(c);
      c.on('error', () => {});
      c.once('data', async () => {
        if (opts.slowly) {
          for (const ch of answer) {
            c.write(ch);
            await new Promise((r) => setTimeout(r, 2));
          }
        } else c.write(answer);
        if (opts.close !== false) c.end();
      });
    }),
  );
const base = { path: '/healthz', timeoutMs: 500 };

describe('probeHealth', () => {
  it('takes 2xx and 3xx, and names the address and status of a failure', async () => {
    expect(await probeHealth(await http(204), base)).toEqual({ ok: true });
    expect(await probeHealth(await http(302), base)).toEqual({ ok: true });
    const at = await http(404);
    expect(await probeHealth(at, base)).toEqual({ ok: false, error: `GET http://${at}/healthz: status 404` });
    const failing = await http(500);
    expect(await probeHealth(failing, base)).toEqual({
      ok: false,
      error: `GET http://${failing}/healthz: status 500`,
    });
  });

  it('takes any status up to maxStatus (an app without /healthz)', async () => {
    expect(await probeHealth(await http(404), { ...base, maxStatus: 499 })).toEqual({ ok: true });
    expect((await probeHealth(await http(500), { ...base, maxStatus: 499 })).ok).toBe(false);
  });

  it('sends a GET of the path with the Host header, each probe on a new connection', async () => {
    const seen: Array<{ method?: string; url?: string; headers: IncomingHttpHeaders }> = [];
    let connections = 0;
    const server = createHttp((q, s) => {
      seen.push({ method: q.method, url: q.url, headers: q.headers });
      s.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'.repeat(10_000));
    });
    server.on('connection', () => connections++);
    const at = await listen(server);
    expect(await probeHealth(at, { ...base, path: '/ready?full=1' })).toEqual({ ok: true });
    expect(await probeHealth(at, { ...base, path: '/ready?full=1' })).toEqual({ ok: true });
    expect(connections).toBe(2);
    expect(seen).toEqual([
      { method: 'GET', url: '/ready?full=1', headers: { host: at, connection: 'close' } },
      { method: 'GET', url: '/ready?full=1', headers: { host: at, connection: 'close' } },
    ]);
  });

  it('fails an instance that accepts the connection but answers garbage, or nothing', async () => {
    const garbage = await raw('SSH-2.0-OpenSSH_9.2\r\n');
    expect(await probeHealth(garbage, base)).toEqual({
      ok: false,
      error: `GET http://${garbage}/healthz: the answer is not HTTP/1`,
    });
    const badLine = await raw('HTTP/1.1 2OO OK\r\n\r\n');
    expect((await probeHealth(badLine, base)).error).toMatch(/the answer is not HTTP\/1$/);
    const closes = await raw('');
    expect(await probeHealth(closes, base)).toEqual({
      ok: false,
      error: `GET http://${closes}/healthz: connection closed without an answer`,
    });
    const endless = await raw(`HTTP/1.1 200 ${'x'.repeat(20_000)}`, { close: false });
    expect((await probeHealth(endless, base)).error).toMatch(/the answer is not HTTP\/1$/);
  });

  it('reads a status line however it is split, and skips interim 1xx answers', async () => {
    expect(await probeHealth(await raw('HTTP/1.1 200 OK\r\n\r\n', { slowly: true }), base)).toEqual({
      ok: true,
    });
    const hints = 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n';
    expect(await probeHealth(await raw(`${hints}HTTP/1.1 204 No Content\r\n\r\n`), base)).toEqual({
      ok: true,
    });
    const failing = await raw(`${hints}HTTP/1.0 503 Busy\r\n\r\n`, { slowly: true });
    expect((await probeHealth(failing, base)).error).toBe(`GET http://${failing}/healthz: status 503`);
  });

  it('says "connection refused" when nothing listens, and names the timeout', async () => {
    const at = await http(200);
    servers.pop()?.close();
    await new Promise((r) => setTimeout(r, 50));
    expect((await probeHealth(at, base)).error).toBe(
      `GET http://${at}/healthz: connection refused (nothing listens on that port)`,
    );
    const silent = await listen(createTcp((c) => sockets.push(c)));
    expect((await probeHealth(silent, { ...base, timeoutMs: 100 })).error).toBe(
      `GET http://${silent}/healthz: no answer within 100 ms`,
    );
    // Half a status line, then silence: still a timeout, not a pass.
    const half = await raw('HTTP/1.1 20', { close: false });
    expect((await probeHealth(half, { ...base, timeoutMs: 100 })).error).toBe(
      `GET http://${half}/healthz: no answer within 100 ms`,
    );
  });

  it('refuses to send a path a request line cannot carry', async () => {
    let connections = 0;
    const server = createHttp((_q, s) => s.end());
    server.on('connection', () => connections++);
    const at = await listen(server);
    expect((await probeHealth(at, { ...base, path: '/health z' })).error).toBe(
      `GET http://${at}/health z: the path has characters a request line cannot carry (escape them, e.g. %20 for a space)`,
    );
    expect((await probeHealth(at, { ...base, path: '/h\r\nX-Injected: 1' })).ok).toBe(false);
    expect(connections).toBe(0);
  });

  it('with tcp, only needs the connection accepted', async () => {
    const notHttp = await listen(createTcp((c) => c.on('error', () => {}).end('not http\n')));
    expect(await probeHealth(notHttp, { ...base, tcp: true })).toEqual({ ok: true });
    servers.pop()?.close();
    await new Promise((r) => setTimeout(r, 50));
    expect((await probeHealth(notHttp, { ...base, tcp: true })).error).toMatch(
      /^TCP connect .*: connection refused/,
    );
  });
});

describe('probeHealth over TLS (run.tls)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-probe-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const TD = 'shop.cairn';
  const ORDERS = `spiffe://${TD}/dev/orders`;

  it('presents the gateway SVID and accepts only the service’s own SVID', async () => {
    await createWorkloadCa(join(dir, 'keys'));
    const ca = await loadWorkloadCa(join(dir, 'keys'));
    const names = { trustDomain: TD, env: 'dev', release: 'rel-1', instance: 'ins-1' };
    const serving = async (service: string, status: number) => {
      const cert = await issueSvid(ca, { ...names, service }, 60_000);
      const server = createHttps(
        {
          cert: cert.certPem,
          key: cert.keyPem,
          ca: ca.bundlePem,
          requestCert: true,
          rejectUnauthorized: true,
        },
        (_q, s) => s.writeHead(status).end(),
      );
      return listen(server as unknown as Server);
    };
    const client = { ...(await issueGatewayCertificate(ca, TD, 'dev', 60_000)), bundlePem: ca.bundlePem };
    const tls = { spiffeId: ORDERS, client };
    expect(await probeHealth(await serving('orders', 200), base, tls)).toEqual({ ok: true });
    const failing = await serving('orders', 500);
    expect(await probeHealth(failing, base, tls)).toEqual({
      ok: false,
      error: `GET https://${failing}/healthz: status 500`,
    });
    const other = await serving('web', 200);
    expect((await probeHealth(other, base, tls)).error).toBe(
      `GET https://${other}/healthz: TLS: backend certificate names URI:spiffe://${TD}/dev/web, not ${ORDERS}`,
    );
    // A TCP probe of a TLS instance completes the handshake: the wrong SVID still fails it.
    expect((await probeHealth(other, { ...base, tcp: true }, tls)).ok).toBe(false);
    expect(await probeHealth(await serving('orders', 503), { ...base, tcp: true }, tls)).toEqual({
      ok: true,
    });
  });
});

describe('finalStatus', () => {
  it.each([
    ['HTTP/1.1 200 OK\r\n', 200],
    ['HTTP/1.0 404\r\n', 404],
    ['HTTP/1.1 301 Moved\n', 301],
    ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\n', 500],
    ['HTTP/1.1 100 Continue\n\nHTTP/1.1 204\n', 204],
    ['HTTP/1.', undefined],
    ['HTTP/1.1 200 OK', undefined],
    ['HTTP/1.1 103 Early Hints\r\nLink: x\r\n', undefined],
    ['', undefined],
    ['HTTP/2 200\r\n', null],
    ['http/1.1 200 OK\r\n', null],
    ['<html>', null],
    ['HTTP/1.1 099 Low\r\n', null],
    ['HTTP/1.1 2000 Big\r\n', null],
  ])('%j → %s', (head, status) => {
    expect(finalStatus(head)).toBe(status);
  });
});
