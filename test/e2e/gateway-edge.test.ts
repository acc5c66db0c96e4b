/**
 * Runbook: the gateway's edge policies and its answers to bad input.
 * Given a real backend process behind the gateway with limits, a rate limit and JWT auth,
 * when clients send malformed, oversized, slow, unauthenticated or unroutable requests,
 * and the backend resets or hangs,
 * then each gets the right status, and everyone else keeps being served.
 */
import { connect } from 'node:net';
import { SignJWT } from 'jose';
import { Pool as HttpPool, WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGateway,
  type Gateway,
  type GatewayEngine,
  renderPrometheus,
} from '../../src/gateway/index.js';
import { type EchoBackend, startEchoBackend } from '../../src/gateway/testing/echo-backend.js';

const secret = new TextEncoder().encode('edge-test-secret-edge-test-secret!');
const accessLog: string[] = [];
let backend: EchoBackend;
let gateway: Gateway;
let address: string;
let http: HttpPool;

async function get(
  path: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'POST' = 'GET',
  body?: string,
) {
  const res = await http.request({
    path,
    method,
    headers: { host: 'app.test', ...headers },
    body: body ?? null,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

/** Sends raw bytes and returns the version and status the gateway answers with (the reason phrase varies). */
async function raw(chunks: string[], gapMs = 0): Promise<string> {
  return (await rawExchange(chunks, gapMs)).slice(0, 'HTTP/1.1 200'.length);
}

/** Sends raw bytes and returns everything the gateway answers until it closes the connection. */
function rawExchange(chunks: string[], gapMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const [host, port] = address.split(':');
    const socket = connect(Number(port), host!);
    let answer = '';
    let i = 0;
    const next = () => {
      if (i < chunks.length && !socket.destroyed) socket.write(chunks[i++]!, () => setTimeout(next, gapMs));
    };
    socket.on('connect', next);
    socket.on('data', (d) => {
      answer += d;
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 8000);
  });
}

const stillServing = async () => expect((await get('/ok')).status).toBe(200);

describe.each(['builtin', 'haproxy'] as GatewayEngine[])('gateway (%s engine)', (engine) => {
  beforeAll(async () => {
    backend = await startEchoBackend('rel-a', 'ins-a1');
    gateway = createGateway({
      engine,
      listen: '127.0.0.1:0',
      routes: [
        { host: 'app.test', path: '/', service: 'web', maxBodyBytes: 1024, timeoutMs: 500 },
        { host: 'app.test', path: '/upload', service: 'web' },
        { host: 'app.test', path: '/limited', service: 'web', rateLimit: { rps: 0.5, burst: 2 } },
        { host: 'app.test', path: '/secure', service: 'web', auth: { secret, audience: 'shop' } },
        { host: 'idle.test', path: '/', service: 'idle' },
        { host: '*', path: '/socket', service: 'web' },
      ],
      limits: { headersTimeoutMs: 1000, maxHeaderBytes: 4096 },
      accessLog: (line) => accessLog.push(line),
    });
    address = await gateway.listen();
    await gateway.setPools('web', [
      { release: 'rel-a', weight: 100, endpoints: [{ id: backend.id, address: backend.address }] },
    ]);
    http = new HttpPool(`http://${address}`);
  });

  afterAll(async () => {
    await http?.close();
    await gateway?.close(1000);
    await backend?.kill();
  });

  describe('gateway: bad input', () => {
    it('answers 404 for an unknown host and 503 for a service with no release', async () => {
      expect((await get('/', { host: 'nowhere.test' })).status).toBe(404);
      const idle = await get('/', { host: 'idle.test' });
      expect(idle.status).toBe(503);
      expect(JSON.parse(idle.text)).toEqual({ error: 'service idle has no release taking traffic' });
    });

    it('answers 400 to a malformed request and 431 to oversized headers', async () => {
      expect(await raw(['THIS IS NOT HTTP\r\n\r\n'])).toBe('HTTP/1.1 400');
      const big = `GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`;
      expect(await raw([big])).toBe('HTTP/1.1 431');
      await stillServing();
    });

    it('answers 408 to a slowloris client while serving everyone else', async () => {
      const trickle = [
        'GET / HTTP/1.1\r\n',
        'Host: app.test\r\n',
        ...Array.from({ length: 20 }, (_, i) => `X-${i}: 1\r\n`),
      ];
      const slow = raw(trickle, 200);
      await stillServing();
      expect(await slow).toBe('HTTP/1.1 408');
    });

    it('keeps serving while 200 slowloris clients hold connections open, then answers each 408', async () => {
      const slow = Array.from({ length: 200 }, () =>
        raw(['GET / HTTP/1.1\r\n', 'Host: app.test\r\n', 'X-A: 1\r\n'], 400),
      );
      for (let i = 0; i < 5; i++) await stillServing();
      const answers = await Promise.all(slow);
      expect(new Set(answers)).toEqual(new Set(['HTTP/1.1 408']));
    });

    it('answers 413 to a body over the route limit, declared or streamed', async () => {
      expect((await get('/', {}, 'POST', 'x'.repeat(2000))).status).toBe(413);
      const chunked = [
        'POST /echo HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n',
        ...Array.from({ length: 6 }, () => `200\r\n${'y'.repeat(512)}\r\n`),
        '0\r\n\r\n',
      ];
      expect(await raw(chunked, 20)).toBe('HTTP/1.1 413');
      const small = await get('/echo', {}, 'POST', 'x'.repeat(1000));
      expect(JSON.parse(small.text).bodyBytes).toBe(1000);
    });

    it('answers 502 when the backend resets and 504 when it hangs', async () => {
      // A backend that drops the connection: 502. HAProxy answers so on a new client connection;
      // on a kept-alive one it closes silently instead, as a server would, so the client retries.
      if (engine === 'builtin') expect((await get('/reset')).status).toBe(502);
      else expect(await raw(['GET /reset HTTP/1.1\r\nHost: app.test\r\n\r\n'])).toBe('HTTP/1.1 502');
      const started = Date.now();
      const hang = await get('/hang');
      expect(hang.status).toBe(504);
      expect(Date.now() - started).toBeLessThan(3000);
      await stillServing();
    });
  });

  describe('gateway: edge policies', () => {
    it('rate limits per client with 429 and Retry-After', async () => {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push(await get('/limited'));
      expect(statuses.map((s) => s.status)).toEqual([200, 200, 429]);
      expect(statuses[2]!.headers['retry-after']).toBe('2');
      await stillServing();
    });

    it('requires a valid JWT on an authenticated route', async () => {
      const missing = await get('/secure');
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      const token = await new SignJWT({ sub: 'alice', aud: 'shop' })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(secret);
      expect((await get('/secure', { authorization: `Bearer ${token}` })).status).toBe(200);
      const wrongAudience = await new SignJWT({ aud: 'other' })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(secret);
      expect((await get('/secure', { authorization: `Bearer ${wrongAudience}` })).status).toBe(401);
    });

    it('sets X-Forwarded-* and keeps hop-by-hop headers on their own hop', async () => {
      const answer = await rawExchange([
        'GET /echo HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close, x-drop\r\n' +
          'X-Drop: 1\r\nX-Keep: 2\r\n\r\n',
      ]);
      const [head, body] = answer.split('\r\n\r\n') as [string, string];
      const seen = JSON.parse(body).headers;
      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen['x-forwarded-host']).toBe('app.test');
      expect(seen['x-forwarded-proto']).toBe('http');
      expect(seen['x-drop']).toBeUndefined();
      expect(seen['x-keep']).toBe('2');
      expect(head).toMatch(/^HTTP\/1.1 200/);
      expect(head.toLowerCase()).toContain('x-release: rel-a');
      expect(head.toLowerCase()).not.toContain('x-hop');
    });

    it('streams response bodies as they come and request bodies without a limit', async () => {
      const started = Date.now();
      const res = await http.request({
        path: '/stream?chunks=5&gapMs=250',
        method: 'GET',
        headers: { host: 'app.test' },
      });
      const arrivals: number[] = [];
      for await (const _chunk of res.body) arrivals.push(Date.now() - started);
      // Buffered, every chunk would arrive at once; streamed, they arrive about 250 ms apart.
      expect(arrivals.length).toBeGreaterThanOrEqual(2);
      expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(700);
      const upload = await get('/upload', {}, 'POST', 'z'.repeat(3 * 1024 * 1024));
      expect(JSON.parse(upload.text).bodyBytes).toBe(3 * 1024 * 1024);
    });

    it('tunnels WebSocket upgrades to the release', async () => {
      const [host, port] = address.split(':');
      const ws = new WebSocket(`ws://${host}:${port}/socket`);
      const reply = await new Promise<string>((resolve, reject) => {
        ws.onopen = () => ws.send('hello');
        ws.onmessage = (e) => resolve(String(e.data));
        ws.onerror = () => reject(new Error('websocket failed'));
      });
      ws.close();
      expect(reply).toBe('hello from rel-a');
    });
  });

  describe('gateway: metrics and access log', () => {
    it('counts requests by release for the analysis and for Prometheus, and logs JSON lines', async () => {
      for (let i = 0; i < 5; i++) await stillServing();
      const window = gateway.metrics('web', 'rel-a', 60_000);
      expect(window.requests).toBeGreaterThanOrEqual(5);
      expect(window.statusClasses['2xx']).toBeGreaterThanOrEqual(5);
      expect(window.errors).toBeGreaterThanOrEqual(2); // the 502 and the 504 above
      expect(window.p50Ms).toBeGreaterThan(0);
      const text = renderPrometheus(gateway.snapshot());
      expect(text).toMatch(
        /cairn_gateway_requests_total\{route="\d+",service="web",release="rel-a",code="2xx"\} \d+/,
      );
      const last = JSON.parse(accessLog.at(-1)!);
      expect(last).toMatchObject({
        method: 'GET',
        host: 'app.test',
        path: '/ok',
        status: 200,
        release: 'rel-a',
      });
      expect(last.endpoint).toBe('ins-a1');
    });
  });
});
