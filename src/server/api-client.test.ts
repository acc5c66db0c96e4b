import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from './api-client.js';

// A control plane that accepts connections and never answers: a stuck process, a wedged event loop.
let server: Server;
let sockets: Socket[];
let url: string;
beforeEach(async () => {
  sockets = [];
  server = createServer((socket) => {
    sockets.push(socket);
    socket.resume(); // read the request, answer nothing
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('ApiClient against a control plane that never answers', () => {
  it('gives up on a read after the read timeout, naming the address, and closes its connection', async () => {
    const client = new ApiClient(url, 'token', { readMs: 300, changeMs: 5_000 });
    const started = Date.now();
    await expect(client.get('/v1/status')).rejects.toMatchObject({
      code: 'timeout',
      message: `reaching the control plane at ${url}: no answer within 0.3s`,
      hint: expect.stringContaining('control-plane.log'),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(sockets.every((s) => s.destroyed || s.readableEnded)).toBe(true);
  });

  it('gives a change its own, longer timeout', async () => {
    const client = new ApiClient(url, 'token', { readMs: 100, changeMs: 600 });
    const started = Date.now();
    await expect(client.post('/v1/deploy', {})).rejects.toMatchObject({ code: 'timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(590);
  });
});
