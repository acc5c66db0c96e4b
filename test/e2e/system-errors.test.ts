/**
 * Runbook: what the machine can refuse a new user — a workspace they may not read, a full disk, a
 * runtime that is not installed, a registry nobody listens on — is a user error: the operation and
 * the path, a hint, exit 1, no stack trace, and nothing changed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAIRN_BIN, cairn } from '../helpers/cli.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = '65534';
const NOT_A_BUG = /internal error|This is a bug|\n +at /;

/** The CLI as another (unprivileged) user, the way someone without sudo would run it. */
function asNobody(args: string[], cwd: string) {
  const r = spawnSync(
    'setpriv',
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, CAIRN_BIN, ...args],
    { cwd, encoding: 'utf8', env: { ...process.env, CAIRN_HOME: '' } },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('system errors a user can fix', () => {
  let ws: HelloWorkspace;
  beforeAll(async () => {
    ws = new HelloWorkspace(helloSpec(await freePort(), '{ strategy: bluegreen }'));
    expect((await ws.runAsync(['init'])).code).toBe(0);
  });
  afterAll(() => ws?.cleanup());

  it.runIf(isRoot)(
    'Given a workspace another user owns (0700), When someone without access runs cairn, Then each command says permission denied on the workspace, exit 1',
    () => {
      chmodSync(ws.dir, 0o755);
      for (const args of [
        ['status'],
        ['images'],
        ['secret', 'list'],
        ['build', 'hello'],
        ['deploy', 'hello', '--env', 'dev'],
      ]) {
        const r = asNobody(args, ws.dir);
        expect(r.code, args.join(' ')).toBe(1);
        expect(r.stderr).toContain(
          `error: opening the workspace: permission denied: access ${join(ws.dir, '.cairn')} (EACCES)`,
        );
        expect(r.stderr).toContain('hint: run cairn as the user that owns the workspace');
        expect(r.stderr).not.toMatch(NOT_A_BUG);
      }
    },
  );

  it.runIf(isRoot)(
    'Given a workspace on a full disk, When hello is built, Then it says no space left, exit 1, and the store holds no image',
    () => {
      const mount = mkdtempSync(join(tmpdir(), 'cairn-full-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount]);
      try {
        const home = join(mount, 'ws');
        const env = { CAIRN_HOME: home };
        expect(cairn(['init'], { cwd: ws.dir, env }).code).toBe(0);
        const r = cairn(['build', 'hello'], { cwd: ws.dir, env });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/error: .*no space left on device: .*\(ENOSPC\)/);
        expect(r.stderr).toContain('hint: free space on that disk');
        expect(r.stderr).not.toMatch(NOT_A_BUG);
        expect(cairn(['images'], { cwd: ws.dir, env }).stdout).toContain('no images yet');
        expect(readdirSync(join(home, 'store', 'blobs', 'sha256')).length).toBeLessThan(3);
      } finally {
        execFileSync('umount', [mount]);
        rmSync(mount, { recursive: true, force: true });
      }
    },
  );

  it('Given the runtime the user asks for is not installed, When cairn up starts, Then it names the package to install, exit 1, and nothing runs', () => {
    const emptyPath = mkdtempSync(join(tmpdir(), 'cairn-nopath-'));
    mkdirSync(emptyPath, { recursive: true });
    const r = cairn(['up', '--driver', 'bwrap'], { cwd: ws.dir, env: { PATH: emptyPath } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: creating the bwrap driver: bubblewrap is not installed');
    expect(r.stderr).toContain('hint: install it (`apt-get install bubblewrap`)');
    expect(r.stderr).not.toMatch(NOT_A_BUG);
    expect(cairn(['status'], { cwd: ws.dir }).stderr).toContain('`cairn up` is not running');
  });

  it('Given a registry address nobody listens on, When an image is pushed, Then it says it cannot reach it, exit 1', async () => {
    expect((await ws.runAsync(['build', 'hello'])).code).toBe(0);
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as { port: number };
        s.close(() => resolve(p));
      });
    });
    const r = await ws.runAsync(['push', 'hello', '--to', `127.0.0.1:${port}/hello:v1`, '--insecure']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `error: pushing [0-9a-f]{12} to 127\\.0\\.0\\.1:${port}/hello:v1: cannot reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`,
      ),
    );
    expect(r.stderr).toContain('hint: start the registry or check the address');
    expect(r.stderr).not.toMatch(NOT_A_BUG);
  });
});
