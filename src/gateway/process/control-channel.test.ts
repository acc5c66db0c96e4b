import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ControlClient } from './control-client.js';
import { type Handlers, serveControl } from './control-server.js';
import { PROTOCOL_VERSION } from './protocol.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-control-'));
const path = join(dir, 'gw.sock');
const applied: unknown[] = [];
const handlers: Handlers = {
  hello: async () => ({
    protocol: PROTOCOL_VERSION,
    pid: process.pid,
    root: dir,
    env: 'dev',
    engine: 'builtin',
    address: '127.0.0.1:1',
    configHash: 'h',
  }),
  setPools: async (args) => {
    if (args.service === 'bad')
      throw Object.assign(new Error('set pools of bad: no such route'), { hint: 'h' });
    applied.push(args);
    return {};
  },
  setIdentity: async () => ({}),
  setRoutes: async (args) => {
    applied.push(args);
    return { configHash: 'h2' };
  },
  drain: async () => new Promise((r) => setTimeout(() => r({}), 50)),
  metrics: async () => ({ slots: [], totals: [] }),
  stop: async () => ({}),
};
const server = await serveControl(path, handlers);
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends raw lines and returns the first answer line (or '' when the connection closes). */
const raw = (text: string) =>
  new Promise<string>((resolve) => {
    const s = connect(path, () => s.write(text));
    let got = '';
    s.on('data', (d) => {
      got += d;
      if (got.includes('\n')) {
        s.destroy();
        resolve(got.trim());
      }
    });
    s.on('close', () => resolve(got.trim()));
  });

describe('the gateway control socket', () => {
  it('is a socket only its owner can open', () => {
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('answers requests by id, errors included, on one connection while a drain is pending', async () => {
    const client = await ControlClient.connect(path);
    const drain = client.call('drain', { endpointId: 'ins-1' });
    expect((await client.call('hello', {})).env).toBe('dev');
    await client.call('setPools', { service: 'web', pools: [] });
    await expect(client.call('setPools', { service: 'bad', pools: [] })).rejects.toThrow(/no such route/);
    await expect(drain).resolves.toEqual({});
    expect(applied).toEqual([{ service: 'web', pools: [] }]);
    client.close();
  });

  it('refuses an operation it does not know, or another protocol version, without running anything', async () => {
    expect(JSON.parse(await raw(`{"v":1,"id":1,"op":"exec","args":{}}\n`))).toMatchObject({
      id: 1,
      ok: false,
      error: { code: 'unsupported' },
    });
    expect(
      JSON.parse(await raw(`{"v":99,"id":2,"op":"setPools","args":{"service":"x","pools":[]}}\n`)),
    ).toMatchObject({ id: 2, ok: false });
    expect(applied).toHaveLength(1);
  });

  it('hangs up on a line that is not JSON', async () => {
    expect(await raw('not json\n')).toBe('');
  });

  it('rejects the pending calls of a client whose gateway went away', async () => {
    const client = await ControlClient.connect(path);
    let closed = false;
    client.onClose(() => {
      closed = true;
    });
    const pending = client.call('drain', { endpointId: 'ins-2' });
    client.close();
    await expect(pending).rejects.toThrow(/connection closed/);
    expect(closed).toBe(true);
  });
});
