/**
 * A real backend for gateway tests and benchmarks: a separate Node.js process serving HTTP on
 * 127.0.0.1 that says which release and instance answered. Test support only; not part of the API.
 *
 * Paths: `/hang` never answers, `/reset` drops the connection, `/stream?chunks=N&gapMs=M` streams,
 * `?ms=N` delays the answer; anything else echoes method, url, headers and body size as JSON.
 * An Upgrade to `websocket` is accepted and text frames are echoed back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

const SCRIPT = String.raw`
const http = require('node:http');
const crypto = require('node:crypto');
const { RELEASE = 'none', INSTANCE = 'none' } = process.env;
const head = { 'content-type': 'application/json', 'x-release': RELEASE, 'x-instance': INSTANCE };
function stream(res, chunks, gapMs) {
  res.writeHead(200, { 'x-release': RELEASE, 'content-type': 'text/plain' });
  let i = 0;
  const next = () => { if (i === chunks) return res.end(); res.write('chunk ' + i++ + '\n'); setTimeout(next, gapMs); };
  next();
}
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://backend');
  if (url.pathname === '/hang') return;
  if (url.pathname === '/reset') return req.socket.destroy();
  if (url.pathname === '/stream') return stream(res, Number(url.searchParams.get('chunks') || 3), Number(url.searchParams.get('gapMs') || 10));
  let bytes = 0;
  req.on('data', (c) => { bytes += c.length; });
  req.on('end', () => setTimeout(() => {
    const body = JSON.stringify({ release: RELEASE, instance: INSTANCE, method: req.method, url: req.url, headers: req.headers, bodyBytes: bytes });
    res.writeHead(200, { ...head, 'content-length': Buffer.byteLength(body), 'connection': 'keep-alive, x-hop', 'x-hop': 'secret' });
    res.end(body);
  }, Number(url.searchParams.get('ms') || 0)));
});
server.on('upgrade', (req, socket) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ' + accept + '\r\n\r\n');
  socket.on('data', (frame) => {
    const len = frame[1] & 0x7f;
    if ((frame[0] & 0x0f) !== 1 || len > 125) return socket.destroy();
    const mask = frame.subarray(2, 6);
    const text = Buffer.from(frame.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4])).toString() + ' from ' + RELEASE;
    socket.write(Buffer.concat([Buffer.from([0x81, Buffer.byteLength(text)]), Buffer.from(text)]));
  });
  socket.on('error', () => {});
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

export interface EchoBackend {
  id: string;
  release: string;
  address: string;
  process: ChildProcess;
  /** SIGKILL: the instance crashes without closing its connections politely. */
  kill(): Promise<void>;
}

/** Starts a backend process and resolves once it listens. */
export async function startEchoBackend(release: string, id: string): Promise<EchoBackend> {
  const child = spawn(process.execPath, ['-e', SCRIPT], {
    env: { ...process.env, RELEASE: release, INSTANCE: id },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  while (!/listening \d+/.test(out)) {
    const [chunk] = (await once(child.stdout!, 'data')) as [string];
    out += chunk;
  }
  const port = /listening (\d+)/.exec(out)![1];
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  return { id, release, address: `127.0.0.1:${port}`, process: child, kill };
}
