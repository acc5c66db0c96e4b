import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cairn, cairnAsync, REPO_ROOT } from '../helpers/cli.js';

const run = cairnAsync;

const READY_TIMEOUT_MS = 20_000;
const IS_ROOT = process.getuid?.() === 0;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('a host:node image runs under runc', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-runc-'));
  const id = `cairn-e2e-${process.pid}`;
  afterAll(() => {
    try {
      execFileSync('runc', ['delete', '--force', id], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  });

  // runc needs root here (rootless runc needs user namespaces this sandbox may not allow).
  it.skipIf(!IS_ROOT)(
    'Given the hello image unpacked by umoci, when runc starts its entrypoint as uid 65532 on a read-only root, then /healthz answers',
    async () => {
      cpSync(join(REPO_ROOT, 'examples/hello'), dir, { recursive: true });
      expect(cairn(['init'], { cwd: dir }).code).toBe(0);
      expect((await run(['build'], { cwd: dir })).code).toBe(0);
      const bundle = join(dir, 'bundle');
      execFileSync('umoci', ['unpack', '--image', `${join(dir, '.cairn/store')}:hello:latest`, bundle], {
        stdio: 'ignore',
      });
      const port = await freePort();
      const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
      expect(config.process.args).toEqual(['node', 'server.js']);
      expect(config.process.user.uid).toBe(65532);
      config.process.terminal = false;
      config.process.env.push(`PORT=${port}`, 'HOST=127.0.0.1');
      config.root.readonly = true;
      config.linux.namespaces = config.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));

      const child = spawn('runc', ['run', id], { cwd: bundle, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d) => {
        output += d;
      });
      try {
        let body = '';
        const deadline = Date.now() + READY_TIMEOUT_MS;
        while (Date.now() < deadline && body !== 'ok\n') {
          body = await fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.text(),
            () => '',
          );
          if (body !== 'ok\n') await new Promise((r) => setTimeout(r, 200));
        }
        expect(body).toBe('ok\n');
        const hello = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.json());
        expect(hello).toEqual({ version: 'v1', message: 'hi' });
        expect(output).toContain('"msg":"listening"');
      } finally {
        execFileSync('runc', ['kill', id, 'KILL'], { stdio: 'ignore' });
        await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      }
    },
  );
});
