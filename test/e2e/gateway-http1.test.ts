/**
 * Runbook: HTTP/1.1 on the wire through the gateway, on both engines.
 * Given a gateway in front of a real backend process and a hand-written backend that frames its
 * answers in the less common ways (no length, close after each answer),
 * when clients pipeline, speak HTTP/1.0, ask for 100-continue, or try to smuggle a request,
 * then each gets a correctly framed answer and a smuggled request never reaches a backend.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayEngine } from '../../src/gateway/index.js';
import { type EchoBackend, startEchoBackend } from '../../src/gateway/testing/echo-backend.js';

let backend: EchoBackend;
let plain: Server;
let plainRequests = 0;
let gateway: Gateway;
let address: string;

/** Answers every request with a body delimited by closing the connection (no length, no chunks). */
function startPlainBackend(): Promise<string> {
  plain = createServer((socket: Socket) => {
    let seen = '';
    socket.on('data', (d) => {
      seen += d.toString('latin1');
      if (!seen.includes('\r\n\r\n')) return;
      plainRequests++;
      socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the connection closes');
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    plain.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(plain.address() as { port: number }).port}`)),
  );
}

/** An address nothing listens on. */
async function deadAddress(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return `127.0.0.1:${port}`;
}

/** Writes `text`, collects everything until the gateway closes or `untilMs` passes. */
function exchange(text: string, untilMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const [host, port] = address.split(':');
    const socket = connect(Number(port), host!);
    let answer = '';
    socket.on('connect', () => socket.write(text));
    socket.on('data', (d) => {
      answer += d.toString('latin1');
    });
    const timer = setTimeout(() => socket.destroy(), untilMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', reject);
  });
}

const statusLines = (answer: string) => answer.match(/HTTP\/1\.1 \d{3}[^\r]*/g) ?? [];

describe.each(['builtin', 'haproxy'] as GatewayEngine[])('gateway (%s engine)', (engine) => {
  beforeAll(async () => {
    backend = await startEchoBackend('rel-a', 'ins-a1');
    const plainAddress = await startPlainBackend();
    gateway = createGateway({
      engine,
      listen: '127.0.0.1:0',
      routes: [
        { host: 'app.test', path: '/', service: 'web' },
        { host: 'plain.test', path: '/', service: 'plain' },
        { host: 'dead.test', path: '/', service: 'dead' },
      ],
    });
    address = await gateway.listen();
    await gateway.setPools('web', [
      { release: 'rel-a', weight: 100, endpoints: [{ id: backend.id, address: backend.address }] },
    ]);
    await gateway.setPools('dead', [
      { release: 'rel-d', weight: 100, endpoints: [{ id: 'ins-d', address: await deadAddress() }] },
    ]);
    await gateway.setPools('plain', [
      { release: 'rel-p', weight: 100, endpoints: [{ id: 'ins-p', address: plainAddress }] },
    ]);
  });

  afterAll(async () => {
    await gateway?.close(1000);
    await backend?.kill();
    await new Promise((r) => plain?.close(r));
  });

  describe('HTTP/1.1 framing', () => {
    it('answers pipelined requests in order on one connection', async () => {
      const get = (path: string, last = false) =>
        `GET ${path} HTTP/1.1\r\nHost: app.test\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
      const answer = await exchange(get('/one') + get('/two') + get('/three', true));
      expect(statusLines(answer)).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
      const urls = [...answer.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
      expect(urls).toEqual(['/one', '/two', '/three']);
    });

    it('decodes a chunked answer for an HTTP/1.0 client and closes after it', async () => {
      const answer = await exchange('GET /stream?chunks=3&gapMs=5 HTTP/1.0\r\nHost: app.test\r\n\r\n');
      const [head, body] = answer.split('\r\n\r\n') as [string, string];
      expect(head).toMatch(/^HTTP\/1.1 200/);
      expect(head.toLowerCase()).not.toContain('transfer-encoding');
      expect(head.toLowerCase()).toContain('connection: close');
      expect(body).toBe('chunk 0\nchunk 1\nchunk 2\n');
    });

    it('answers 100 Continue before the body is sent', async () => {
      const answer = await exchange(
        'POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nhello',
      );
      expect(statusLines(answer)).toEqual(['HTTP/1.1 100 Continue', 'HTTP/1.1 200 OK']);
      expect(answer).toContain('"bodyBytes":5');
      // The built-in engine answers 100 itself; HAProxy passes the backend's 100 on.
      if (engine === 'builtin') expect(answer).not.toMatch(/"expect"/);
    });

    it('never lets a request with both Content-Length and Transfer-Encoding smuggle another', async () => {
      const before = plainRequests;
      const smuggle =
        'POST / HTTP/1.1\r\nHost: plain.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '0\r\n\r\nGET /admin HTTP/1.1\r\nHost: plain.test\r\n\r\n';
      const answer = await exchange(smuggle);
      if (engine === 'builtin') {
        expect(statusLines(answer)).toEqual(['HTTP/1.1 400 Bad Request']);
        expect(plainRequests).toBe(before);
      } else {
        // HAProxy frames the body by Transfer-Encoding alone and closes after answering (RFC 9112
        // §6.1): the backend sees one request, never the smuggled GET /admin.
        expect(statusLines(answer)).toEqual(['HTTP/1.1 200 OK']);
        expect(plainRequests).toBe(before + 1);
      }
    });

    it('passes a body delimited by the backend closing, then closes the client connection', async () => {
      const answer = await exchange('GET / HTTP/1.1\r\nHost: plain.test\r\n\r\n');
      expect(statusLines(answer)).toEqual(['HTTP/1.1 200 OK']);
      expect(answer.toLowerCase()).toContain('connection: close');
      expect(answer.endsWith('until the connection closes')).toBe(true);
    });

    it('serves GETs in a row from a backend that closes every connection after one answer', async () => {
      const statuses: string[] = [];
      for (let i = 0; i < 20; i++)
        statuses.push(...statusLines(await exchange(`GET /${i} HTTP/1.1\r\nHost: plain.test\r\n\r\n`)));
      expect(statuses).toEqual(Array(20).fill('HTTP/1.1 200 OK'));
    });

    it('answers 502 (HAProxy: 503) to a request and to a WebSocket upgrade when the instance is gone', async () => {
      // HAProxy says 503 when it cannot connect to any server; the built-in engine says 502.
      const gone = engine === 'builtin' ? 'HTTP/1.1 502' : 'HTTP/1.1 503';
      const status = (answer: string) => statusLines(answer).map((l) => l.slice(0, gone.length));
      expect(status(await exchange('GET / HTTP/1.1\r\nHost: dead.test\r\n\r\n', 3500))).toEqual([gone]);
      const upgrade =
        'GET /socket HTTP/1.1\r\nHost: dead.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
      expect(status(await exchange(upgrade))).toEqual([gone]);
    });
  });
});
