/**
 * Release gates at every door, on a real workspace: CEL policies deny a root image and a build from
 * a dirty tree at deploy (exit 3, every reason printed) and allow the fixed one, with the decision in
 * the audit log and in `cairn trace`; admission refuses to start a denied release whose state rows
 * were written by hand; an OSV database made from real advisories stops `cairn promote --to prod`
 * at maxSeverity high until the finding is accepted, and an expired acceptance blocks again.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageStore } from '../../src/artifact/index.js';
import { validateSbom } from '../../src/artifact/sbom.js';
import { releaseId } from '../../src/lib/index.js';
import { openStateStore, workspaceFor } from '../../src/state/index.js';
import {
  addAttestation,
  attachedStatements,
  CYCLONEDX_PREDICATE_TYPE,
  imageStatement,
  loadSigningKey,
  SLSA_PROVENANCE_V1,
} from '../../src/trust/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { LOCK, PACKAGE, writeVulnerableDeps } from '../helpers/vulnerable-app.js';
import { freePort, HelloWorkspace } from '../helpers/workspace.js';

const STEP_MS = 300_000;

const POLICIES = `# Release policies: code, reviewed like code.
policies:
  - name: non-root
    validations:
      - expression: '!image.config.user.startsWith("0")'
        message: the image runs as root
        reason: Forbidden
  - name: clean-tree
    match: { stages: [deploy, promote] }
    validations:
      - expression: provenance.present && !provenance.dirty
        messageExpression: '"built from a dirty tree at " + provenance.sourceCommit'
        reason: Unverifiable
`;

function spec(devPort: number, prodPort: number, vuln = '', devGates = ''): string {
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
  dev: { policies: [policies/release.yaml], ${devGates}gateway: { listen: "127.0.0.1:${devPort}" } }
  prod: { after: dev, maxSeverity: high, gateway: { listen: "127.0.0.1:${prodPort}" } }
routes:
  - { host: "*", path: /, service: hello }
${vuln}`;
}

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=cairn-e2e', '-c', 'user.email=e2e@cairn.invalid', ...args], {
    cwd: dir,
    stdio: 'pipe',
  }).toString();

interface AuditEntryJson {
  index: number;
  action: string;
  subject: { release?: string; env?: string };
  reason?: string;
  detail?: Record<string, unknown>;
}

describe('release gates: policies, admission and the OSV scan', () => {
  let ws: HelloWorkspace;
  let devPort: number;
  let prodPort: number;
  const run = (...args: string[]) => ws.runAsync(args);
  const audit = async () =>
    JSON.parse((await run('audit', 'log', '--output', 'json')).stdout).entries as AuditEntryJson[];
  const deployLatestToDev = () =>
    run('deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '120s');
  const imageOf = async (ref: string) =>
    JSON.parse((await run('inspect', ref, '--output', 'json')).stdout).digest as string;

  /** The image with User 0:0, its SBOM and provenance re-attested by the workspace key. */
  async function rootVariant(ref: string): Promise<string> {
    const store = openImageStore(join(ws.dir, '.cairn/store'));
    const image = await store.resolve(ref);
    const manifest = await store.readManifest(image.digest);
    const config = JSON.parse((await store.readBlob(manifest.config.digest)).toString('utf8'));
    config.config.User = '0:0';
    const configDesc = await store.putBlob(Buffer.from(JSON.stringify(config)), manifest.config.mediaType);
    const rootManifest = { ...manifest, config: { ...manifest.config, ...configDesc } };
    const desc = await store.putBlob(Buffer.from(JSON.stringify(rootManifest)), image.mediaType);
    await store.tag('hello-root:latest', { ...desc, mediaType: image.mediaType });
    const key = loadSigningKey(join(ws.dir, '.cairn/keys/cairn.key')).key;
    for (const a of await attachedStatements(store, image.digest, [])) {
      if (a.predicateType !== CYCLONEDX_PREDICATE_TYPE && a.predicateType !== SLSA_PROVENANCE_V1) continue;
      const statement = imageStatement('hello', desc.digest, a.predicateType, a.statement.predicate);
      await addAttestation(store, { ...desc, mediaType: image.mediaType }, statement, key);
    }
    return desc.digest;
  }

  beforeAll(async () => {
    devPort = await freePort();
    prodPort = await freePort();
    ws = new HelloWorkspace(spec(devPort, prodPort));
    mkdirSync(join(ws.dir, 'policies'), { recursive: true });
    writeFileSync(join(ws.dir, 'policies/release.yaml'), POLICIES);
    writeVulnerableDeps(ws.dir);
    writeFileSync(join(ws.dir, '.gitignore'), '.cairn/\n');
    git(ws.dir, 'init', '-q');
    git(ws.dir, 'add', '-A');
    git(ws.dir, 'commit', '-q', '-m', 'hello');
    expect((await run('init')).code).toBe(0);
    expect((await run('keygen')).code).toBe(0);
    expect((await run('validate')).code).toBe(0);
    expect((await run('up', '--detach')).code).toBe(0);
  }, STEP_MS);

  afterAll(() => ws?.cleanup(), STEP_MS);

  it('Given a CEL type error in a policy, validate names file:line:column and deploy changes nothing', async () => {
    const file = join(ws.dir, 'policies/release.yaml');
    writeFileSync(
      file,
      POLICIES.replace('image.config.user.startsWith("0")', 'image.config.usr.startsWith("0")'),
    );
    const r = await run('validate');
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/policies\/release\.yaml:5:\d+: .*CEL type error: No such key: usr/);
    writeFileSync(file, POLICIES);
  });

  it(
    'Given a root image built from a dirty tree, deploy exits 3 with both reasons; the clean non-root build deploys',
    async () => {
      const server = join(ws.dir, 'app/server.js');
      writeFileSync(server, `${readFileSync(server, 'utf8')}// uncommitted edit\n`);
      const built = await run('build', 'hello');
      expect(built.code, built.stderr).toBe(0);
      const root = await rootVariant('hello:latest');

      const denied = await run('deploy', 'hello', '--env', 'dev', '--image', root);
      expect(denied.code, denied.stderr).toBe(3);
      expect(denied.stderr).toContain('policy non-root[0]: the image runs as root (Forbidden)');
      expect(denied.stderr).toMatch(
        /policy clean-tree\[0\]: built from a dirty tree at [0-9a-f]{40} \(Unverifiable\)/,
      );
      expect(denied.stderr).toContain('!image.config.user.startsWith("0")');

      const dirty = await run('deploy', 'hello', '--env', 'dev', '--image', 'hello');
      expect(dirty.code).toBe(3);
      expect(dirty.stderr).toContain('clean-tree[0]');
      expect(dirty.stderr).not.toContain('non-root');

      git(ws.dir, 'commit', '-q', '-am', 'edit');
      expect((await run('build', 'hello')).code).toBe(0);
      const ok = await deployLatestToDev();
      expect(ok.code, ok.stderr).toBe(0);
      expect(await fetch(`http://127.0.0.1:${devPort}/`).then((x) => x.status)).toBe(200);

      const entries = await audit();
      const denials = entries.filter((e) => e.action === 'gate.denied');
      expect(denials.map((e) => e.reason)).toEqual([
        expect.stringMatching(/non-root\[0\].*; policy clean-tree\[0\]/),
        expect.stringMatching(/^policy clean-tree\[0\]/),
      ]);
      const allowed = entries.filter((e) => e.action === 'gate.allowed');
      expect(allowed).toHaveLength(1);
      expect(allowed[0]!.detail?.attestation).toMatch(/^sha256:/);
      expect(allowed[0]!.detail?.inputsDigest).toMatch(/^sha256:/);
      const trace = await run('trace', await imageOf('hello'));
      expect(trace.code, trace.stderr).toBe(0);
      expect(trace.stdout).toMatch(/attestation gate-decision deploy dev sha256:[0-9a-f]{64}/);
      expect(trace.stdout).toMatch(/gate\.allowed/);
      expect(root).toMatch(/^sha256:/);
    },
    STEP_MS,
  );

  it(
    'Given state rows written by hand for the denied root release, admission refuses to start it and audits it',
    async () => {
      const root = await imageOf('hello-root:latest');
      expect((await run('down')).code).toBe(0);
      const wsPaths = workspaceFor(join(ws.dir, 'cairn.yaml'), {});
      const store = openStateStore(wsPaths);
      const serving = store.getServing('dev', 'hello')!;
      const good = store.getRelease(store.getTarget('dev', 'hello')!.releaseId)!;
      const forged = { ...good, id: releaseId(good.service, root, good.configDigest), imageDigest: root };
      store.transaction((tx) => {
        tx.putRelease(forged);
        tx.setServing({ ...serving, replicas: { ...serving.replicas, [forged.id]: 1 } });
      });
      store.close();
      expect((await run('up', '--detach')).code).toBe(0);

      const deadline = Date.now() + 60_000;
      let refusals: AuditEntryJson[] = [];
      while (Date.now() < deadline && refusals.length === 0) {
        await new Promise((r) => setTimeout(r, 1000));
        refusals = (await audit()).filter(
          (e) => e.action === 'admission.denied' && e.subject.release === forged.id,
        );
      }
      expect(refusals.length).toBeGreaterThan(0);
      expect(refusals[0]!.reason).toContain('non-root[0]: the image runs as root');
      const { instances } = JSON.parse((await run('ps', '--env', 'dev', '--output', 'json')).stdout) as {
        instances: Array<{ release: string }>;
      };
      expect(instances.map((i) => i.release)).toEqual([good.id]);
      expect(await fetch(`http://127.0.0.1:${devPort}/`).then((x) => x.status)).toBe(200);

      // Put the serving row back, so the rest of the story runs on what passed.
      expect((await run('down')).code).toBe(0);
      const again = openStateStore(wsPaths);
      const now = again.getServing('dev', 'hello')!;
      const { [forged.id]: _, ...replicas } = now.replicas;
      again.transaction((tx) => tx.setServing({ ...now, replicas }));
      again.close();
      expect((await run('up', '--detach')).code).toBe(0);
    },
    STEP_MS,
  );

  it(
    'Given an OSV database, promote to prod (maxSeverity high) exits 3 naming the critical advisory until it is accepted; an expired acceptance blocks again',
    async () => {
      const imported = await run('vuln', 'db', 'import', join(REPO_ROOT, 'test/fixtures/osv'));
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stdout).toMatch(/^imported 4 OSV record\(s\)/);

      const scan = await run('scan', 'hello', '--env', 'prod');
      expect(scan.code).toBe(3);
      expect(scan.stdout).toMatch(
        /^BLOCK +GHSA-xvch-5gv4-984h +critical 9\.8 +minimist 1\.2\.5 → 1\.2\.6 +\(CVE-2021-44906\)$/m,
      );
      expect(scan.stdout).toMatch(/^ +GHSA-35jh-r3h4-6jhm +high 7\.2 +lodash 4\.17\.20 → 4\.17\.21/m);
      expect(scan.stdout).not.toContain('GHSA-p6mc-m468-83gw'); // lodash 4.17.20 is past that fix
      expect(scan.stdout).not.toContain('DSA-5514-1'); // glibc 2.36-9+deb12u14 is past deb12u3
      const vex = JSON.parse((await run('scan', 'hello', '--output', 'cyclonedx')).stdout);
      expect(await validateSbom(JSON.stringify(vex))).toBeUndefined();
      expect(vex.vulnerabilities.map((v: { id: string }) => v.id).sort()).toEqual([
        'GHSA-35jh-r3h4-6jhm',
        'GHSA-xvch-5gv4-984h',
      ]);

      const denied = await run('promote', 'hello', '--from', 'dev', '--to', 'prod');
      expect(denied.code, denied.stderr).toBe(3);
      expect(denied.stderr).toMatch(
        /scan GHSA-xvch-5gv4-984h: minimist 1\.2\.5 is affected \(CVE-2021-44906\): critical 9\.8, fixed in 1\.2\.6 — above maxSeverity high/,
      );
      expect(denied.stderr).not.toContain('GHSA-35jh-r3h4-6jhm');

      const accept = (expires: string) =>
        writeFileSync(
          join(ws.dir, 'cairn.yaml'),
          spec(
            devPort,
            prodPort,
            `vuln:\n  ignore:\n    - { id: CVE-2021-44906, reason: "argv is never parsed from user input", expires: "${expires}" }\n`,
          ),
        );
      accept('2020-01-01');
      const expired = await run('promote', 'hello', '--from', 'dev', '--to', 'prod');
      expect(expired.code).toBe(3);
      expect(expired.stderr).toContain('its acceptance expired 2020-01-01');

      accept('2099-01-01');
      const passed = await run(
        'promote',
        'hello',
        '--from',
        'dev',
        '--to',
        'prod',
        '--wait',
        '--timeout',
        '120s',
      );
      expect(passed.code, passed.stderr).toBe(0);
      expect(passed.stderr).toContain('warning: scan GHSA-xvch-5gv4-984h: accepted until 2099-01-01');
      expect(await fetch(`http://127.0.0.1:${prodPort}/`).then((x) => x.status)).toBe(200);
      const decisions = (await audit()).filter(
        (e) => e.action === 'gate.allowed' && e.subject.env === 'prod',
      );
      expect(decisions).toHaveLength(1);
      expect(decisions[0]!.reason).toMatch(/promote gates passed: predecessor, scan/);
      // Scanned once, at the first promote; later doors reuse the signed scan attestation.
      expect(decisions[0]!.detail?.scan).toMatchObject({
        reused: true,
        accepted: ['GHSA-xvch-5gv4-984h'],
        blocking: [],
      });
      const after = await run('scan', 'hello', '--env', 'prod');
      expect(after.code).toBe(0);
      expect(after.stdout).toMatch(/^accept +GHSA-xvch-5gv4-984h .*accepted until 2099-01-01/m);
    },
    STEP_MS,
  );

  it(
    'Given a newer gate denies the previous release, rollback exits 3 and --force rolls back, recorded as overridden',
    async () => {
      const v1 = JSON.parse((await run('status', '--env', 'dev', '--output', 'json')).stdout).services[0]
        .release as string;
      // v2 drops minimist; then dev starts scanning (maxSeverity high), which v1 no longer passes.
      const { minimist: _m, ...deps } = PACKAGE.dependencies;
      const { 'node_modules/minimist': _n, ...packages } = LOCK.packages;
      const v2pkg = { ...PACKAGE, dependencies: deps };
      writeFileSync(join(ws.dir, 'app/package.json'), JSON.stringify(v2pkg, null, 2));
      writeFileSync(
        join(ws.dir, 'app/package-lock.json'),
        JSON.stringify({ ...LOCK, packages: { ...packages, '': v2pkg } }, null, 2),
      );
      git(ws.dir, 'commit', '-q', '-am', 'drop minimist');
      expect((await run('build', 'hello')).code).toBe(0);
      const deployed = await deployLatestToDev();
      expect(deployed.code, deployed.stderr).toBe(0);
      writeFileSync(join(ws.dir, 'cairn.yaml'), spec(devPort, prodPort, '', 'maxSeverity: high, '));

      const refused = await run('rollback', 'hello', '--env', 'dev');
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain('scan GHSA-xvch-5gv4-984h');
      expect(refused.stderr).toContain('roll back anyway with --force');

      const forced = await run('rollback', 'hello', '--env', 'dev', '--force', '--wait', '--timeout', '120s');
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stderr).toMatch(
        /warning: FORCED past 1 failed gate rule\(s\), recorded as gate\.overridden/,
      );
      const status = JSON.parse((await run('status', '--env', 'dev', '--output', 'json')).stdout);
      expect(status.services[0].release).toBe(v1);
      const overridden = (await audit()).filter((e) => e.action === 'gate.overridden');
      expect(overridden).toHaveLength(1);
      expect(overridden[0]!.subject.release).toBe(v1);
      expect(overridden[0]!.reason).toContain('GHSA-xvch-5gv4-984h');
      // Admission lets the forced release's instances start: none of them was refused.
      expect(
        (await audit()).filter((e) => e.action === 'admission.denied' && e.subject.release === v1),
      ).toEqual([]);
      expect(await fetch(`http://127.0.0.1:${devPort}/`).then((x) => x.status)).toBe(200);
    },
    STEP_MS,
  );
});
