/**
 * Runbook: hostile HTTP clients against the gateway.
 * Given a gateway in front of a real HTTP backend that records every request it gets,
 * when 2,000 clients send a head over the limit and hang up (or hold on), one client opens more
 * connections than its share, a chunked trailer ends in a bare LF, an absolute-form target names
 * another host than Host, a target carries a NUL, or an HTTP/1.0 client sends no Host,
 * then the gateway's file descriptors come back to their baseline, the extra connections are
 * refused while other clients are served, no smuggled request reaches the backend, and the
 * backend sees the host the request was routed by.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGateway,
  type Gateway,
  type GatewayConfig,
  type GatewayEngine,
} from '../../src/gateway/index.js';

const ATTACK_CONNECTIONS = 2_000;

interface Seen {
  method: string;
  url: string;
  version: string;
  host: string | undefined;
  forwardedHost: string | undefined;
}

let backend: Server;
let backendAddress: string;
const seen: Seen[] = [];

function startBackend(): Promise<string> {
  backend = createServer((req: IncomingMessage, res) => {
    const record = {
      method: req.method ?? '',
      url: req.url ?? '',
      version: req.httpVersion,
      host: req.headers.host,
      forwardedHost: req.headers['x-forwarded-host'] as string | undefined,
    };
    seen.push(record);
    req.resume();
    req.on('end', () => res.end(JSON.stringify(record)));
  });
  return new Promise((resolve) =>
    backend.listen(0, '127.0.0.1', () =>
      resolve(`127.0.0.1:${(backend.address() as { port: number }).port}`),
    ),
  );
}

/** Request lines a lenient backend found on its connections (it answers each at once, body unread). */
const lenientSeen: string[] = [];
let lenient: NetServer;

/** A backend that reads requests as loosely as many do: any line that looks like a request line is one. */
function startLenientBackend(): Promise<string> {
  lenient = createNetServer((socket) => {
    let text = '';
    let scanned = 0;
    socket.on('data', (d) => {
      text += d.toString('latin1');
      for (const m of text.slice(scanned).matchAll(/^([A-Z]+) (\S+) HTTP\/1\.1\r?$/gm)) {
        lenientSeen.push(m[2]!);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
      scanned = text.lastIndexOf('\n') + 1;
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    lenient.listen(0, '127.0.0.1', () =>
      resolve(`127.0.0.1:${(lenient.address() as { port: number }).port}`),
    ),
  );
}

const CLOSING_GET = 'GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n';
const openFds = () => readdirSync('/proc/self/fd').length;

/** Polls `check` every 100 ms until it holds or `ms` passes; returns whether it held. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; ) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** Writes raw bytes from `localAddress`, collects the answer until the gateway closes or `ms` passes. */
function exchange(address: string, text: string, ms = 3000, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const [host, port] = address.split(':');
    const socket = connect({ port: Number(port), host: host!, localAddress });
    let answer = '';
    socket.on('connect', () => socket.write(text, 'latin1'));
    socket.on('data', (d) => {
      answer += d.toString('latin1');
    });
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', () => {});
  });
}

/**
 * The attacker, in a process of its own so its sockets are not counted with the gateway's: each
 * connection sends one head of `size` bytes (over the limit), then hangs up (FIN), resets (RST) or
 * holds the connection open until the process is killed; 200 connections at a time.
 */
const ATTACKER = `
const net = require('node:net');
const [port, count, mode, size] = process.argv.slice(1);
const head = 'GET / HTTP/1.1\\r\\nHost: app.test\\r\\nX-Big: ' + 'a'.repeat(Number(size)) + '\\r\\n';
let started = 0, sent = 0;
const held = [];
function one() {
  if (started >= Number(count)) return;
  started++;
  const s = net.connect(Number(port), '127.0.0.1');
  let over = false;
  const next = () => {
    if (over) return;
    over = true;
    if (mode === 'hangup') s.end(); else if (mode === 'reset') s.destroy(); else held.push(s);
    if (++sent === Number(count)) console.log('sent');
    one();
  };
  s.on('error', next);
  s.on('connect', () => s.write(head, next));
}
for (let i = 0; i < 200; i++) one();
setInterval(() => {}, 1000);
`;

type AttackMode = 'hangup' | 'reset' | 'hold';

function attack(address: string, mode: AttackMode, headBytes: number): Promise<ChildProcess> {
  const port = address.split(':')[1]!;
  const args = ['-e', ATTACKER, port, String(ATTACK_CONNECTIONS), mode, String(headBytes)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('sent') && resolve(child));
    child.on('exit', (code) => reject(new Error(`attacker exited with ${code}`)));
  });
}

let lenientAddress: string;

beforeAll(async () => {
  backendAddress = await startBackend();
  lenientAddress = await startLenientBackend();
});

afterAll(async () => {
  await new Promise((r) => backend?.close(r));
  await new Promise((r) => lenient?.close(r));
});

/** A gateway in front of both backends: `app.test`/`other.test`/`*` on the recording one, `lenient.test` on the lenient one. */
async function startGateway(engine: GatewayEngine, limits: GatewayConfig['limits'] = {}) {
  const gateway = createGateway({
    engine,
    listen: '127.0.0.1:0',
    routes: [
      { host: 'app.test', path: '/', service: 'web' },
      { host: 'other.test', path: '/', service: 'other' },
      { host: 'lenient.test', path: '/', service: 'lenient' },
      { host: '*', path: '/', service: 'web' },
    ],
    limits,
  });
  const address = await gateway.listen();
  const pool = (name: string, endpoint: string) => [
    { release: `rel-${name}`, weight: 100, endpoints: [{ id: `ins-${name}`, address: endpoint }] },
  ];
  await gateway.setPools('web', pool('web', backendAddress));
  await gateway.setPools('other', pool('other', backendAddress));
  await gateway.setPools('lenient', pool('lenient', lenientAddress));
  return { gateway, address };
}

describe('gateway (builtin engine): the life cycle of a rejected connection', () => {
  let gateway: Gateway;
  let address: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    // The cap is out of the way here: the connections must end by themselves.
    ({ gateway, address } = await startGateway('builtin', {
      maxConnectionsPerClient: 10 * ATTACK_CONNECTIONS,
    }));
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await gateway?.close(1000);
  });

  // A head far over the limit fills the socket's buffers after the 431 (what once paused the
  // connection for good); a head just over it, with the client holding on, needs the linger.
  it.each([
    ['hangup', 200_000],
    ['reset', 200_000],
    ['hold', 20_000],
  ] as [AttackMode, number][])(
    'gives back every file descriptor after 2,000 oversized heads whose clients then %s',
    async (mode, headBytes) => {
      // Given a gateway that has served a request (its backend connection is in the pool)
      expect(await exchange(address, CLOSING_GET)).toMatch(/^HTTP\/1.1 200/);
      const baseline = openFds();
      // When 2,000 clients send a head over the limit, and hang up, reset or hold on
      const child = await attack(address, mode, headBytes);
      children.push(child);
      // Then the gateway's descriptors are back to the baseline within the linger and one sweep
      const back = await eventually(() => openFds() <= baseline + 5, 6000);
      expect({ mode, fds: openFds(), baseline, back }).toMatchObject({ back: true });
      // And it still serves
      expect(await exchange(address, CLOSING_GET)).toMatch(/^HTTP\/1.1 200/);
      child.kill('SIGKILL');
    },
    30_000,
  );
});

describe.each(['builtin', 'haproxy'] as GatewayEngine[])(
  'gateway (%s engine): hostile requests',
  (engine) => {
    let gateway: Gateway;
    let address: string;

    beforeAll(async () => {
      ({ gateway, address } = await startGateway(engine));
    });

    afterAll(() => gateway?.close(1000));

    it('refuses a chunked trailer ending in a bare LF, and the bytes after it never reach a backend', async () => {
      lenientSeen.length = 0;
      const smuggle =
        'POST /upload HTTP/1.1\r\nHost: lenient.test\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\nX\n' +
        'GET /admin HTTP/1.1\r\nHost: lenient.test\r\n\r\n';
      const answer = await exchange(address, smuggle, 1000);
      expect(answer.match(/HTTP\/1.1 \d{3}/g)).toEqual(['HTTP/1.1 400']);
      expect(lenientSeen).not.toContain('/admin');
    });

    it('never lets the backend see a Host other than the authority of an absolute-form target', async () => {
      seen.length = 0;
      const answer = await exchange(
        address,
        'GET http://app.test/who HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n',
      );
      if (engine === 'builtin') {
        // RFC 9112 §3.2.2: the authority replaces Host.
        expect(answer).toMatch(/^HTTP\/1.1 200/);
        expect(seen).toEqual([
          { method: 'GET', url: '/who', version: '1.1', host: 'app.test', forwardedHost: 'app.test' },
        ]);
      } else {
        // HAProxy refuses a Host that differs from the authority.
        expect(answer).toMatch(/^HTTP\/1.1 400/);
        expect(seen).toEqual([]);
      }
    });

    it('refuses a request target with a NUL, another control byte or raw non-ASCII', async () => {
      lenientSeen.length = 0;
      for (const target of ['/a\x00b', '/a\x01', '/a\x7f', '/caf\xe9'])
        expect(await exchange(address, `GET ${target} HTTP/1.1\r\nHost: lenient.test\r\n\r\n`)).toMatch(
          /^HTTP\/1.1 400 /,
        );
      expect(lenientSeen).toEqual([]);
    });

    it('refuses CONNECT: the gateway tunnels to no one', async () => {
      lenientSeen.length = 0;
      const answer = await exchange(
        address,
        'CONNECT lenient.test:80 HTTP/1.1\r\nHost: lenient.test\r\n\r\n',
      );
      expect(answer).toMatch(/^HTTP\/1.1 501 /);
      expect(lenientSeen).toEqual([]);
    });

    it('forwards an HTTP/1.0 request without Host with a host the backend can route by', async () => {
      seen.length = 0;
      expect(await exchange(address, 'GET /old HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1.1 200/);
      // The built-in engine speaks HTTP/1.1 to backends, which requires a Host: the address the
      // client reached (RFC 9112 §3.3). HAProxy passes HTTP/1.0 on as it came, where Host is optional.
      const expected =
        engine === 'builtin'
          ? { version: '1.1', host: address, forwardedHost: address }
          : { version: '1.0', host: undefined, forwardedHost: undefined };
      expect(seen).toEqual([{ method: 'GET', url: '/old', ...expected }]);
    });
  },
);

describe.each(['builtin', 'haproxy'] as GatewayEngine[])(
  'gateway (%s engine): the per-client connection cap',
  (engine) => {
    const CAP = 20;
    let gateway: Gateway;
    let address: string;
    let server: Server;
    const held: Socket[] = [];

    beforeAll(async () => {
      server = createServer((_req, res) => res.end('ok'));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      gateway = createGateway({
        engine,
        listen: '127.0.0.1:0',
        routes: [{ host: '*', path: '/', service: 'web' }],
        limits: { maxConnectionsPerClient: CAP },
      });
      address = await gateway.listen();
      const port = (server.address() as { port: number }).port;
      await gateway.setPools('web', [
        { release: 'rel-web', weight: 100, endpoints: [{ id: 'ins-web', address: `127.0.0.1:${port}` }] },
      ]);
    });

    afterAll(async () => {
      for (const s of held) s.destroy();
      await gateway?.close(1000);
      await new Promise((r) => server?.close(r));
    });

    it('refuses a client its connection over the cap while another client is served', async () => {
      // Given one client holding as many connections as the cap allows
      const [host, port] = address.split(':');
      for (let i = 0; i < CAP; i++) {
        const s = connect(Number(port), host!);
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        held.push(s);
      }
      await new Promise((r) => setTimeout(r, 200));
      // When it opens one more, then it is refused (the built-in engine says why) and closed
      const refused = await exchange(address, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 3000);
      if (engine === 'builtin') expect(refused).toMatch(/^HTTP\/1.1 429 [\s\S]*at most 20 per client/);
      else expect(refused).toBe(''); // HAProxy closes at accept time, before a request is read
      // And another client address is served meanwhile
      expect(await exchange(address, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 1000, '127.0.0.2')).toMatch(
        /^HTTP\/1.1 200/,
      );
      // And once the first client lets go, it is served again
      for (const s of held.splice(0)) s.destroy();
      await new Promise((r) => setTimeout(r, 300));
      expect(await exchange(address, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 1000)).toMatch(/^HTTP\/1.1 200/);
    });
  },
);
