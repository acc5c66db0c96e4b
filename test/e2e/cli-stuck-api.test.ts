import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_TIMEOUT_MS } from '../../src/server/api-client.js';
import { cairn, cairnAsync, REPO_ROOT } from '../helpers/cli.js';

// Given a control plane that accepts connections and never answers (a wedged process),
// when `cairn status` asks it, then the CLI gives up after its read timeout and says where and what to do.
let dir: string;
let server: Server;
const sockets: Socket[] = [];
let address: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-stuck-'));
  cpSync(join(REPO_ROOT, 'examples/hello'), dir, { recursive: true });
  expect(cairn(['init'], { cwd: dir }).code).toBe(0);
  server = createServer((socket) => {
    sockets.push(socket);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const info = { url: address, pid: process.pid, startedAt: new Date().toISOString() };
  writeFileSync(join(dir, '.cairn/api.json'), JSON.stringify(info));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a control plane that never answers', () => {
  it('Given a socket that accepts and is silent, when cairn status, then it exits 1 after the read timeout naming the address', async () => {
    const started = Date.now();
    const r = await cairnAsync(['status'], { cwd: dir, timeoutMs: READ_TIMEOUT_MS + 30_000 });
    const tookMs = Date.now() - started;
    expect(sockets.length).toBeGreaterThan(0);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: reaching the control plane at ${address}: no answer within 15s`);
    expect(r.stderr).toMatch(/\nhint: .*control-plane\.log/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(tookMs).toBeGreaterThanOrEqual(READ_TIMEOUT_MS);
    expect(tookMs).toBeLessThan(READ_TIMEOUT_MS + 10_000);
  }, 60_000);
});
