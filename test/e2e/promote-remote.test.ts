/**
 * Runbook: promotion between machines. A build host (workspace A) builds and signs hello, and its
 * dev gate scans it against OSV data and attaches the signed scan attestation; it pushes the image
 * with its signatures and attestations to a real registry. A production host (workspace B, its own
 * keys and state, trusting only A's public key, with an older copy of the OSV data) pulls the
 * digest and deploys it to prod through its gates: signature, SBOM and provenance by A's key, and
 * the scan — answered from A's attestation, because B's database is not newer than the one A used.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { type LocalRegistry, startLocalRegistry } from '../helpers/registry.js';
import { writeVulnerableDeps } from '../helpers/vulnerable-app.js';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';

const STEP_MS = 300_000;
const OSV = join(REPO_ROOT, 'test', 'fixtures', 'osv');
function spec(env: string, port: number, extra = ''): string {
  return `project: hello
services:
  hello:
    build:
      context: ./app
      include: ["**/*.js", "package.json", "package-lock.json"]
      entrypoint: ["node", "server.js"]
      files: { /etc/hello/config.json: ./config/v1.json }
    run:
      port: 8080
      replicas: 1
      health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }
      tmpfs: [/tmp]
    deploy: { strategy: bluegreen }
environments:
  ${env}: { maxSeverity: high, ${extra}gateway: { listen: "127.0.0.1:${port}" } }
routes:
  - { host: "*", path: /, service: hello }
vuln:
  ignore:
    - { id: CVE-2021-44906, reason: "argv is never parsed from user input", expires: "2099-01-01" }
`;
}

interface AuditEntryJson {
  action: string;
  subject: { env?: string };
  reason?: string;
  detail?: Record<string, unknown>;
}

describe('promotion between machines: push, pull, and the same gates on the production host', () => {
  let registry: LocalRegistry;
  let buildHost: HelloWorkspace;
  let prodHost: HelloWorkspace;
  let prodPort: number;
  const ok = async (ws: HelloWorkspace, ...args: string[]) => {
    const r = await ws.runAsync(args, STEP_MS);
    expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r;
  };
  const audit = async (ws: HelloWorkspace) =>
    JSON.parse((await ok(ws, 'audit', 'log', '--output', 'json')).stdout).entries as AuditEntryJson[];

  beforeAll(async () => {
    registry = await startLocalRegistry();
    buildHost = new HelloWorkspace(spec('dev', await freePort()));
    writeVulnerableDeps(buildHost.dir);
    await ok(buildHost, 'init');
    await ok(buildHost, 'keygen');

    // The production host trusts the build host's public key only, and imported its OSV data first.
    prodPort = await freePort();
    prodHost = new HelloWorkspace(spec('prod', prodPort, 'trust: { keys: [keys/build.pub] }, '));
    mkdirSync(join(prodHost.dir, 'keys'));
    copyFileSync(join(buildHost.dir, '.cairn/keys/cairn.pub'), join(prodHost.dir, 'keys/build.pub'));
    await ok(prodHost, 'init');
    await ok(prodHost, 'vuln', 'db', 'import', OSV);
    await new Promise((r) => setTimeout(r, 20));
    await ok(buildHost, 'vuln', 'db', 'import', OSV);
  }, STEP_MS);

  afterAll(async () => {
    buildHost?.cleanup();
    prodHost?.cleanup();
    await registry?.stop();
  }, STEP_MS);

  it(
    'Given a scanned, signed image pushed by the build host, When the production host pulls and deploys its digest, Then its gates pass and the scan is the build host’s',
    async () => {
      await ok(buildHost, 'up', '--detach');
      await ok(buildHost, 'deploy', 'hello', '--env', 'dev', '--wait', '--timeout', '120s');
      const built = (await audit(buildHost)).find(
        (e) => e.action === 'gate.allowed' && e.subject.env === 'dev',
      );
      expect(built?.detail?.scan).toMatchObject({ reused: false, accepted: ['GHSA-xvch-5gv4-984h'] });
      const digest = JSON.parse((await ok(buildHost, 'inspect', 'hello', '--output', 'json')).stdout)
        .digest as string;
      await ok(buildHost, 'push', 'hello', '--to', `${registry.address}/shop/hello:v1`, '--insecure');

      const pulled = await ok(prodHost, 'pull', `${registry.address}/shop/hello@${digest}`, '--insecure');
      expect(pulled.stdout).toContain(digest);
      expect(pulled.stdout).toContain('signatures:');
      await ok(prodHost, 'up', '--detach');
      const deployed = await ok(
        prodHost,
        'deploy',
        'hello',
        '--env',
        'prod',
        '--image',
        digest,
        '--wait',
        '--timeout',
        '120s',
      );
      expect(deployed.stderr).toContain('scan GHSA-xvch-5gv4-984h: accepted until 2099-01-01');
      expect(await fetch(`http://127.0.0.1:${prodPort}/`).then((r) => r.status)).toBe(200);
      const allowed = (await audit(prodHost)).filter((e) => e.action === 'gate.allowed');
      expect(allowed).toHaveLength(1);
      expect(allowed[0]!.reason).toMatch(/deploy gates passed: .*signature.*scan/);
      expect(allowed[0]!.detail?.scan).toMatchObject({ reused: true, blocking: [] });
    },
    STEP_MS,
  );
});
