import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, cairnAsync, REPO_ROOT } from '../helpers/cli.js';

/** bcrypt of "s3cret-test" (a throwaway test password), the hash format docker-registry's htpasswd reads. */
const HTPASSWD = 'cairn:$2b$05$abcdefghijklmnopqrstuuWestQHD6aUXMyaAG2OuMR4tFbt8EkVK\n';
const CREDS = { CAIRN_REGISTRY_USERNAME: 'cairn', CAIRN_REGISTRY_PASSWORD: 's3cret-test' };
const READY_TIMEOUT_MS = 15_000;

interface Registry {
  port: number;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Starts Debian's docker-registry on 127.0.0.1 with a temp storage dir (and htpasswd auth if asked). */
async function startRegistry(auth = false): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-registry-'));
  const port = await freePort();
  const authYaml = auth ? `auth: { htpasswd: { realm: cairn-test, path: ${join(dir, 'htpasswd')} } }\n` : '';
  writeFileSync(join(dir, 'htpasswd'), HTPASSWD);
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }\nhttp: { addr: 127.0.0.1:${port} }\n${authYaml}`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.status === 200 || r.status === 401,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  };
  return { port, stop };
}

/** A proxy to the registry that answers `status` to the second chunk of any upload (a registry failing mid-push). */
async function failingProxy(
  target: number,
  status: number,
): Promise<{ port: number; stop: () => Promise<void> }> {
  let patches = 0;
  const server = createServer((req, res) => {
    if (req.method === 'PATCH' && ++patches === 2) {
      req.resume();
      res.writeHead(status).end('{"errors":[{"code":"UNKNOWN","message":"injected"}]}');
      return;
    }
    const up = request(
      { host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { port, stop: () => new Promise((r) => server.close(() => r())) };
}

function skopeoDigest(ref: string, creds?: string): string | undefined {
  try {
    const args = ['inspect', '--tls-verify=false', ...(creds ? ['--creds', creds] : []), `docker://${ref}`];
    return JSON.parse(execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
      .Digest;
  } catch {
    return undefined;
  }
}

const run = cairnAsync;

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-push-'));
  cpSync(join(REPO_ROOT, 'examples/hello'), dir, { recursive: true });
  expect(cairn(['init'], { cwd: dir }).code).toBe(0);
  return dir;
}

describe('cairn push and pull against a real registry', () => {
  let registry: Registry;
  let project: string;
  let digest: string;
  const temps: string[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    project = workspace();
    temps.push(project);
    const built = await run(['build', '--output', 'json'], { cwd: project });
    expect(built.code).toBe(0);
    digest = JSON.parse(built.stdout).images[0].digest;
  });
  afterAll(async () => {
    await registry.stop();
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  /** The big host:node layer: the one uploaded in chunks, interrupted by the failing proxy. */
  async function baseLayer(): Promise<string> {
    const manifest = JSON.parse(
      readFileSync(join(project, '.cairn/store/blobs/sha256', digest.slice(7)), 'utf8'),
    );
    return manifest.layers[0].digest;
  }

  it('Given a built service, when pushed, then skopeo sees the same digest; a second push uploads nothing', async () => {
    const target = `127.0.0.1:${registry.port}/hello:v1`;
    const r = await run(['push', 'hello', '--to', target, '--insecure', '--output', 'json'], {
      cwd: project,
    });
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.digest).toBe(digest);
    expect(result.uploaded).toHaveLength(4);
    expect(skopeoDigest(target)).toBe(digest);
    const pushedAgain = await run(
      ['push', digest.slice(7, 19), '--to', target, '--insecure', '--output', 'json'],
      {
        cwd: project,
      },
    );
    const again = JSON.parse(pushedAgain.stdout);
    expect(again.uploaded).toEqual([]);
    expect(again.skipped).toHaveLength(4);
  });

  it('Given a pushed image, when pulled into an empty store by tag and by digest, then the digest comes back', async () => {
    const target = `127.0.0.1:${registry.port}/hello:v1`;
    await run(['push', 'hello', '--to', target, '--insecure'], { cwd: project });
    const empty = workspace();
    temps.push(empty);
    const r = await run(['pull', target, '--insecure', '--output', 'json'], { cwd: empty });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ref: target, digest });
    const byDigest = await run(
      ['pull', `127.0.0.1:${registry.port}/hello@${digest}`, '--insecure', '--output', 'json'],
      { cwd: empty },
    );
    expect(JSON.parse(byDigest.stdout)).toMatchObject({ digest, fetched: [] });
    const images = JSON.parse((await run(['images', '--output', 'json'], { cwd: empty })).stdout).images;
    expect(images.map((i: { digest: string }) => i.digest)).toEqual([digest, digest]);
    expect(
      execFileSync('skopeo', ['inspect', '--raw', `oci:${join(empty, '.cairn/store')}:${target}`]).length,
    ).toBeGreaterThan(0);
  });

  it('Given a pushed image pinned by digest as a base, then a build pulls it once and layers on top', async () => {
    await run(['push', 'hello', '--to', `127.0.0.1:${registry.port}/hello:v1`, '--insecure'], {
      cwd: project,
    });
    const dir = workspace();
    temps.push(dir);
    const spec = join(dir, 'cairn.yaml');
    writeFileSync(
      spec,
      readFileSync(spec, 'utf8').replace(
        'base: host:node',
        `base: "127.0.0.1:${registry.port}/hello@${digest}"`,
      ),
    );
    const first = await run(['build', '--output', 'json'], { cwd: dir });
    expect(first.stderr).toBe('');
    const image = JSON.parse(first.stdout).images[0];
    expect(image.layers).toHaveLength(5);
    expect(image.layers.slice(0, 3).map((l: { cached: boolean }) => l.cached)).toEqual([false, false, false]);
    const manifest = JSON.parse(
      readFileSync(join(dir, '.cairn/store/blobs/sha256', image.digest.slice(7)), 'utf8'),
    );
    expect(manifest.annotations['org.opencontainers.image.base.digest']).toBe(digest);
    const again = JSON.parse((await run(['build', '--output', 'json'], { cwd: dir })).stdout).images[0];
    expect(again.digest).toBe(image.digest);
    expect(again.layers.every((l: { cached: boolean }) => l.cached)).toBe(true);
  });

  for (const status of [500, 401]) {
    it(`Given a registry that answers ${status} mid-push, then push fails clearly and the tag never appears`, async () => {
      const proxy = await failingProxy(registry.port, status);
      try {
        const target = `127.0.0.1:${proxy.port}/broken${status}:v1`;
        const r = await run(['push', 'hello', '--to', target, '--insecure'], { cwd: project });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(
          new RegExp(
            `\\nerror: pushing [0-9a-f]{12} to 127\\.0\\.0\\.1:\\d+/broken${status}:v1: the registry answered ${status}`,
          ),
        );
        expect(r.stderr).toContain('hint: ');
        expect(skopeoDigest(`127.0.0.1:${registry.port}/broken${status}:v1`)).toBeUndefined();
        const big = await fetch(
          `http://127.0.0.1:${registry.port}/v2/broken${status}/blobs/${await baseLayer()}`,
          { method: 'HEAD' },
        );
        expect(big.status).toBe(404);
      } finally {
        await proxy.stop();
      }
    });
  }

  it('Given a registry that is down, then push says it cannot reach it', async () => {
    const port = await freePort();
    const r = await run(['push', 'hello', '--to', `127.0.0.1:${port}/hello:v1`, '--insecure'], {
      cwd: project,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: pushing .*: cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)\nhint: /);
  });

  it('Given --insecure for a registry that is not on this machine, then push refuses before connecting', async () => {
    const r = await run(['push', 'hello', '--to', 'registry.example.com/hello:v1', '--insecure'], {
      cwd: project,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--insecure is only allowed for a registry on this machine');
  });

  it('Given a registry with basic auth, then push fails with 401 guidance without credentials and works with them', async () => {
    const secured = await startRegistry(true);
    try {
      const target = `127.0.0.1:${secured.port}/hello:v1`;
      const denied = await run(['push', 'hello', '--to', target, '--insecure'], { cwd: project });
      expect(denied.code).toBe(1);
      expect(denied.stderr).toContain('the registry wants a user name and password');
      expect(denied.stderr).toContain('hint: set CAIRN_REGISTRY_USERNAME and CAIRN_REGISTRY_PASSWORD');
      expect(skopeoDigest(target, 'cairn:s3cret-test')).toBeUndefined();
      const ok = await run(['push', 'hello', '--to', target, '--insecure'], { cwd: project, env: CREDS });
      expect(ok.code).toBe(0);
      expect(ok.stdout).not.toContain('s3cret-test');
      expect(skopeoDigest(target, 'cairn:s3cret-test')).toBe(digest);
    } finally {
      await secured.stop();
    }
  });
});
