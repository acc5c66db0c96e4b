/**
 * Runbook: honest plans and digests that follow inputs, not commits. Two services built from one
 * git repository run in dev. On the clean tree `plan --detailed-exitcode` exits 0; a commit that
 * touches one service makes it exit 2 naming that service only, and rebuilding keeps the other
 * service's image digest. `cairn trace` follows a release and an instance to the signature key,
 * the SBOM, the provenance builder and the commit, read from the image's own artifacts.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';
import { runcUsable, SKIP_REASON } from './drift-helpers.js';

const SETUP_MS = 300_000;
const STEP_MS = 120_000;
/** Plan reads and hashes every build input; on this small repository it must stay interactive. */
const PLAN_MS = 5000;

const spec = (port: number) => {
  const service = (dir: string, strategy: string) => `  ${dir}:
    build:
      context: ./${dir}
      include: ["**/*.js", "package.json"]
      entrypoint: ["node", "server.js"]
      env: { SERVICE: ${dir} }
      files: { /etc/hello/config.json: ./config/v1.json }
    run:
      port: 8080
      replicas: 1
      health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }
      tmpfs: [/tmp]
    deploy: { strategy: ${strategy} }
`;
  return `project: pair
services:
${service('api', 'rolling')}${service('web', 'bluegreen')}environments:
  dev: { gateway: { listen: "127.0.0.1:${port}" } }
routes:
  - { host: "*", path: /web, service: web }
  - { host: "*", path: /, service: api }
`;
};

interface BuildJson {
  images: Array<{ service: string; digest: string; signed?: { keyId: string; sbomComponents: number } }>;
}
interface PlanJson {
  items: Array<{ action: string; service: string; changes: Array<{ path: string }> }>;
}

if (!runcUsable) console.warn(SKIP_REASON);

describe.runIf(runcUsable)('plan, digests and trace across commits (two services, one repository)', () => {
  let ws: HelloWorkspace;
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=cairn-e2e', '-c', 'user.email=e2e@cairn.invalid', ...args], {
      cwd: ws.dir,
      encoding: 'utf8',
    }).trim();
  const ok = async (...args: string[]) => {
    const r = await ws.runAsync(args);
    expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const build = async () => {
    const out = JSON.parse(await ok('build', '-o', 'json')) as BuildJson;
    return Object.fromEntries(out.images.map((i) => [i.service, i]));
  };
  let first: Record<string, BuildJson['images'][number]>;
  let port: number;
  const releaseOf = async (service: string) => {
    const status = JSON.parse(await ok('status', '-o', 'json')) as {
      services: Array<{ service: string; instances: Array<{ id: string; release: string }> }>;
    };
    return status.services.find((s) => s.service === service)!.instances[0]!;
  };
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      headers,
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: await res.text() };
  };

  beforeAll(async () => {
    port = await freePort();
    ws = new HelloWorkspace(spec(port));
    cpSync(join(ws.dir, 'app'), join(ws.dir, 'api'), { recursive: true });
    cpSync(join(ws.dir, 'app'), join(ws.dir, 'web'), { recursive: true });
    writeFileSync(join(ws.dir, '.gitignore'), '.cairn/\n');
    git('init', '-q');
    git('add', '-A');
    git('commit', '-q', '-m', 'two services');
    await ok('init');
    await ok('keygen');
    first = await build();
    await ok('up', '--detach', '--driver', 'runc');
    for (const s of ['api', 'web'])
      await ok('deploy', s, '--env', 'dev', '--image', s, '--wait', '--timeout', '90s');
  }, SETUP_MS);

  afterAll(() => ws?.cleanup(), SETUP_MS);

  it(
    'Given both services deployed from a clean tree, plan --detailed-exitcode exits 0 with no changes, quickly',
    async () => {
      const started = Date.now();
      const r = await ws.runAsync(['plan', '--detailed-exitcode']);
      const planMs = Date.now() - started;
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('No changes. What runs matches cairn.yaml.');
      expect(r.stdout).not.toContain('known after build');
      console.log(`plan on a clean tree (2 services, CLI start included): ${planMs} ms`);
      expect(planMs).toBeLessThan(PLAN_MS);
    },
    STEP_MS,
  );

  it(
    'Given a release of api, trace shows the signature key, the SBOM, the provenance builder and the commit',
    async () => {
      const head = git('rev-parse', 'HEAD');
      const api = await releaseOf('api');
      const keyId = first.api!.signed!.keyId;

      const release = await ok('trace', api.release);
      expect(release).toMatch(new RegExp(`^image +${first.api!.digest}$`, 'm'));
      expect(release).toMatch(new RegExp(`^signature +key ${keyId}`, 'm'));
      expect(release).toMatch(
        new RegExp(
          `^sbom +CycloneDX 1\\.\\d+, ${first.api!.signed!.sbomComponents} components, signed by key ${keyId}`,
          'm',
        ),
      );
      expect(release).toMatch(
        new RegExp(
          `^provenance +builder https://cairn\\.dev/builder/local, commit ${head}, signed by key`,
          'm',
        ),
      );
      expect(release).toMatch(new RegExp(`^source +commit ${head} \\(provenance\\)`, 'm'));
      expect(release).not.toContain('none recorded');

      const instance = await ok('trace', api.id);
      const order = ['instance', 'release', 'image', 'signature', 'sbom', 'provenance', 'source'];
      const heads = instance.split('\n').map((l) => l.split(/\s+/)[0]);
      expect(order.map((w) => heads.indexOf(w))).toEqual([0, 1, 2, 3, 4, 5, 7]);
      expect(instance).toContain(`commit ${head} (provenance)`);
    },
    STEP_MS,
  );

  it(
    'When a commit touches only web, plan exits 2 naming web only, and a rebuild keeps api’s digest',
    async () => {
      const server = join(ws.dir, 'web', 'server.js');
      const code = readFileSync(server, 'utf8');
      writeFileSync(server, code.replace('?? message;', "?? message + ' (web v2)';"));
      git('commit', '-q', '-am', 'web: a change');

      const text = await ws.runAsync(['plan', '--detailed-exitcode']);
      expect(text.code, text.stderr).toBe(2);
      expect(text.stdout).toMatch(/^ {2}-\/\+ +web \(dev\) must be replaced/m);
      expect(text.stdout).not.toMatch(/api \(dev\)/);
      const json = JSON.parse(await ok('plan', '-o', 'json')) as PlanJson;
      expect(json.items.map((i) => [i.action, i.service, i.changes.map((c) => c.path)])).toEqual([
        ['replace', 'web', ['build.sources']],
      ]);

      const second = await build();
      console.log(
        `digests after a commit touching web: api ${first.api!.digest} → ${second.api!.digest}, web ${first.web!.digest} → ${second.web!.digest}`,
      );
      expect(second.api!.digest).toBe(first.api!.digest);
      expect(second.web!.digest).not.toBe(first.web!.digest);
    },
    STEP_MS,
  );

  it(
    'When web v2 is deployed blue/green, the old release is kept warm and a pin header reaches it; plan is clean again',
    async () => {
      const old = (await releaseOf('web')).release;
      await ok('deploy', 'web', '--env', 'dev', '--image', 'web', '--wait', '--timeout', '90s');
      expect(JSON.parse((await get('/web')).body).message).toBe('hello from v1 (web v2)');
      const pinned = await get('/web', { 'x-cairn-release': old });
      expect(pinned.status, pinned.body).toBe(200);
      expect(JSON.parse(pinned.body).message).toBe('hello from v1');
      const r = await ws.runAsync(['plan', '--detailed-exitcode']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    },
    STEP_MS,
  );
});
