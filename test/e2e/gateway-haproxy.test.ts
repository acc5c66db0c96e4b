/**
 * Runbook: the HAProxy engine as a process cairn owns.
 * Given a gateway whose data plane is a HAProxy child process,
 * when that process is killed, or a previous control plane left one running on the same folder,
 * then cairn starts it again with the same releases and weights, and never runs two.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool as HttpPool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, renderPrometheus } from '../../src/gateway/index.js';
import { type EchoBackend, startEchoBackend } from '../../src/gateway/testing/echo-backend.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-gw-haproxy-'));
const stateDir = join(dir, 'gateway');
let a: EchoBackend;
let b: EchoBackend;

const start = async (): Promise<{ gateway: Gateway; http: HttpPool }> => {
  const gateway = createGateway({
    engine: 'haproxy',
    stateDir,
    listen: '127.0.0.1:0',
    routes: [{ host: '*', path: '/', service: 'web' }],
  });
  return { gateway, http: new HttpPool(`http://${await gateway.listen()}`) };
};

const releaseOf = async (http: HttpPool, headers: Record<string, string> = {}) => {
  const res = await http.request({ path: '/', method: 'GET', headers });
  await res.body.dump();
  return `${res.statusCode} ${res.headers['x-release'] ?? ''}`;
};

const haproxyPids = () => {
  try {
    return execFileSync('pgrep', ['-f', join(stateDir, 'haproxy.cfg')], { encoding: 'utf8' })
      .trim()
      .split('\n');
  } catch {
    return [];
  }
};

beforeAll(async () => {
  a = await startEchoBackend('rel-a', 'ins-a1');
  b = await startEchoBackend('rel-b', 'ins-b1');
});

afterAll(async () => {
  await Promise.all([a?.kill(), b?.kill()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('gateway (haproxy engine) as a process', () => {
  it('keeps its files private: folder 0700, config, maps and socket 0600', async () => {
    const { gateway, http } = await start();
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    for (const f of ['haproxy.cfg', 'split.map', 'pin.map', 'haproxy.pid'])
      expect(statSync(join(stateDir, f)).mode & 0o777).toBe(0o600);
    await http.close();
    await gateway.close(1000);
  });

  it('starts HAProxy again with the same releases and weights when it is killed', async () => {
    const { gateway, http } = await start();
    await gateway.setPools('web', [
      { release: 'rel-a', weight: 0, endpoints: [{ id: a.id, address: a.address }] },
      { release: 'rel-b', weight: 100, endpoints: [{ id: b.id, address: b.address }] },
    ]);
    expect(await releaseOf(http)).toBe('200 rel-b');
    const before = Number(readFileSync(join(stateDir, 'haproxy.pid'), 'utf8'));
    process.kill(before, 'SIGKILL');
    await expect
      .poll(async () => releaseOf(http).catch(() => 'down'), { timeout: 10_000, interval: 100 })
      .toBe('200 rel-b');
    expect(Number(readFileSync(join(stateDir, 'haproxy.pid'), 'utf8'))).not.toBe(before);
    expect(await releaseOf(http, { 'x-cairn-release': 'rel-a' })).toBe('200 rel-a');
    await http.close();
    await gateway.close(1000);
  });

  it('stops a HAProxy a dead control plane left on the folder before starting its own', async () => {
    // A control plane that died left its HAProxy running on the folder's config.
    const first = await start();
    await first.http.close();
    await first.gateway.close(1000);
    const leftover = spawn('haproxy', ['-db', '-f', join(stateDir, 'haproxy.cfg')], { stdio: 'ignore' });
    writeFileSync(join(stateDir, 'haproxy.pid'), `${leftover.pid}\n`);
    await expect.poll(() => haproxyPids()).toEqual([String(leftover.pid)]);
    const second = await start();
    const own = readFileSync(join(stateDir, 'haproxy.pid'), 'utf8').trim();
    expect(own).not.toBe(String(leftover.pid));
    expect(haproxyPids()).toEqual([own]);
    await second.gateway.setPools('web', [
      { release: 'rel-a', weight: 100, endpoints: [{ id: a.id, address: a.address }] },
    ]);
    expect(await releaseOf(second.http)).toBe('200 rel-a');
    await second.http.close();
    await second.gateway.close(1000);
    expect(haproxyPids()).toEqual([]);
  });

  it('refuses a fifth release of a service while four hold slots, and changes nothing', async () => {
    const { gateway, http } = await start();
    const pools = ['r1', 'r2', 'r3', 'r4'].map((release) => ({
      release,
      weight: 25,
      endpoints: [{ id: `ins-${release}`, address: a.address }],
    }));
    await gateway.setPools('web', pools);
    expect(() =>
      gateway.setPools('web', [
        { release: 'r5', weight: 100, endpoints: [{ id: 'ins-r5', address: b.address }] },
      ]),
    ).toThrow(/more than 4 releases/);
    expect(await releaseOf(http)).toBe('200 rel-a');
    await expect.poll(() => renderPrometheus(gateway.snapshot())).toMatch(/release="r\d",code="2xx"\} 1/);
    await http.close();
    await gateway.close(1000);
  });
});
