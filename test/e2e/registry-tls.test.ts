import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAIRN_BIN, type CliResult, cairn, REPO_ROOT } from '../helpers/cli.js';

const READY_TIMEOUT_MS = 15_000;

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

describe('cairn push to a registry serving TLS', () => {
  const work = mkdtempSync(join(tmpdir(), 'cairn-tls-'));
  const project = join(work, 'project');
  const cert = join(work, 'registry.pem');
  let port = 0;
  let registry: ChildProcess | undefined;

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
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(work, 'registry.key'),
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    writeFileSync(
      join(work, 'registry.yml'),
      `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(work, 'data')} } }\n` +
        `http: { addr: 127.0.0.1:${port}, tls: { certificate: ${cert}, key: ${join(work, 'registry.key')} } }\n`,
    );
    registry = spawn('docker-registry', ['serve', join(work, 'registry.yml')], { stdio: 'ignore' });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const up = await new Promise<boolean>((r) => {
        const s = createServer();
        s.once('error', () => r(true));
        s.listen(port, '127.0.0.1', () => s.close(() => r(false)));
      });
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    cpSync(join(REPO_ROOT, 'examples/hello'), project, { recursive: true });
    expect(cairn(['init'], { cwd: project }).code).toBe(0);
    expect((await run(['build'], project)).code).toBe(0);
  });
  afterAll(async () => {
    registry?.kill('SIGTERM');
    await new Promise((r) => (!registry || registry.exitCode !== null ? r(null) : registry.once('exit', r)));
    rmSync(work, { recursive: true, force: true });
  });

  it('Given a certificate cairn does not trust, then push refuses and says how to trust it', async () => {
    const r = await run(['push', 'hello', '--to', `127.0.0.1:${port}/hello:v1`], project);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: pushing [0-9a-f]{12} to 127\.0\.0\.1:\d+\/hello:v1: cannot reach 127\.0\.0\.1:\d+ \(\w*(CERT|SIGNED)\w*\)/,
    );
    expect(r.stderr).toContain(
      'hint: the registry certificate is not trusted: add its CA with NODE_EXTRA_CA_CERTS',
    );
  });

  it('Given the registry CA in NODE_EXTRA_CA_CERTS, then push goes over TLS and skopeo sees the digest', async () => {
    const r = await run(
      ['push', 'hello', '--to', `127.0.0.1:${port}/hello:v1`, '--output', 'json'],
      project,
      {
        NODE_EXTRA_CA_CERTS: cert,
      },
    );
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    const { digest } = JSON.parse(r.stdout);
    const caDir = join(work, 'ca');
    mkdirSync(caDir);
    copyFileSync(cert, join(caDir, 'ca.crt'));
    const info = execFileSync(
      'skopeo',
      ['inspect', '--cert-dir', caDir, `docker://127.0.0.1:${port}/hello:v1`],
      {
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(info).Digest).toBe(digest);
  });
});
