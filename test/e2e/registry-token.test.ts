import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAIRN_BIN, type CliResult, cairn, REPO_ROOT } from '../helpers/cli.js';

// docker-registry with token auth: it sends `Bearer realm=…` challenges and accepts JWTs signed by
// a key whose certificate is in its root bundle. The token service below is that realm.
const READY_TIMEOUT_MS = 15_000;
const SERVICE = 'cairn-test-registry';
const ISSUER = 'cairn-test-issuer';
const USER = { name: 'ci', password: 'token-test-pw' };

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], {
      cwd,
      env: { ...process.env, CAIRN_HOME: undefined, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

describe('cairn push to a registry that wants bearer tokens', () => {
  const work = mkdtempSync(join(tmpdir(), 'cairn-token-'));
  const project = join(work, 'project');
  const requests: string[] = [];
  let port = 0;
  let registry: ChildProcess | undefined;
  let tokens: Server | undefined;

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=cairn-test-token-signer',
        '-keyout',
        join(work, 'signer.key'),
        '-out',
        join(work, 'signer.pem'),
      ],
      { stdio: 'ignore' },
    );
    const key = createPrivateKey(readFileSync(join(work, 'signer.key')));
    const certDer = new X509Certificate(readFileSync(join(work, 'signer.pem'))).raw.toString('base64');
    tokens = createHttpServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const basic = `Basic ${Buffer.from(`${USER.name}:${USER.password}`).toString('base64')}`;
      requests.push(`${url.searchParams.get('service')} ${url.searchParams.get('scope')}`);
      if (req.headers.authorization !== basic) return void res.writeHead(401).end();
      const [, name, actions] = (url.searchParams.get('scope') ?? '').split(':');
      const token = await new SignJWT({
        access: [{ type: 'repository', name, actions: (actions ?? '').split(',') }],
      })
        .setProtectedHeader({ alg: 'ES256', x5c: [certDer] })
        .setIssuer(ISSUER)
        .setSubject(USER.name)
        .setAudience(SERVICE)
        .setIssuedAt()
        .setNotBefore('0s')
        .setExpirationTime('5m')
        .setJti(String(requests.length))
        .sign(key);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
    });
    await new Promise<void>((r) => tokens!.listen(0, '127.0.0.1', r));
    const realm = `http://127.0.0.1:${(tokens.address() as { port: number }).port}/token`;
    port = await freePort();
    writeFileSync(
      join(work, 'registry.yml'),
      `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(work, 'data')} } }\n` +
        `http: { addr: 127.0.0.1:${port} }\n` +
        `auth: { token: { realm: "${realm}", service: ${SERVICE}, issuer: ${ISSUER}, rootcertbundle: ${join(work, 'signer.pem')} } }\n`,
    );
    registry = spawn('docker-registry', ['serve', join(work, 'registry.yml')], { stdio: 'ignore' });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (
        await fetch(`http://127.0.0.1:${port}/v2/`).then(
          (r) => r.status === 401,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    cpSync(join(REPO_ROOT, 'examples/hello'), project, { recursive: true });
    expect(cairn(['init'], { cwd: project }).code).toBe(0);
    expect((await run(['build'], project)).code).toBe(0);
  });
  afterAll(async () => {
    registry?.kill('SIGTERM');
    await new Promise((r) => (!registry || registry.exitCode !== null ? r(null) : registry.once('exit', r)));
    await new Promise((r) => (tokens ? tokens.close(r) : r(null)));
    rmSync(work, { recursive: true, force: true });
  });

  it('Given wrong credentials, then push stops at the token service with a hint', async () => {
    const r = await run(['push', 'hello', '--to', `127.0.0.1:${port}/team/hello:v1`, '--insecure'], project, {
      CAIRN_REGISTRY_USERNAME: USER.name,
      CAIRN_REGISTRY_PASSWORD: 'wrong',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the token service answered 401');
    expect(r.stderr).toContain('hint: set CAIRN_REGISTRY_USERNAME and CAIRN_REGISTRY_PASSWORD');
  });

  it('Given the right credentials, then push gets a push-scoped token and pull a pull-scoped one', async () => {
    requests.length = 0;
    const env = { CAIRN_REGISTRY_USERNAME: USER.name, CAIRN_REGISTRY_PASSWORD: USER.password };
    const pushed = await run(
      ['push', 'hello', '--to', `127.0.0.1:${port}/team/hello:v1`, '--insecure', '--output', 'json'],
      project,
      env,
    );
    expect(pushed.stderr).not.toContain('error');
    expect(pushed.code).toBe(0);
    // The scope comes from the registry's challenge, which names the actions in either order.
    const pushScopes = requests.filter((r) => /^\S+ repository:team\/hello:(pull,push|push,pull)$/.test(r));
    expect(pushScopes, JSON.stringify(requests)).not.toHaveLength(0);
    expect(requests.every((r) => r.startsWith(`${SERVICE} `))).toBe(true);
    expect(pushed.stdout).not.toContain(USER.password);

    const empty = join(work, 'empty');
    cpSync(join(REPO_ROOT, 'examples/hello'), empty, { recursive: true });
    expect(cairn(['init'], { cwd: empty }).code).toBe(0);
    const pulled = await run(
      ['pull', `127.0.0.1:${port}/team/hello:v1`, '--insecure', '--output', 'json'],
      empty,
      env,
    );
    expect(pulled.code).toBe(0);
    expect(JSON.parse(pulled.stdout).digest).toBe(JSON.parse(pushed.stdout).digest);
    expect(requests).toContain(`${SERVICE} repository:team/hello:pull`);
  });
});
