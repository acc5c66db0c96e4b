/**
 * The process driver, the last resort: run by a non-root user (uid 65532 via setpriv, since this
 * suite runs as root) it starts the probe service from a verified bundle, prints its warning, and
 * visibly isolates nothing; run as root it refuses to start anything.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriverError, newInstanceId } from '../../src/lib/index.js';
import { createProcessDriver, freeLoopbackPort, PROCESS_WARNING } from '../../src/runtime/index.js';
import { buildProbeImage, type FixtureImage } from '../../src/runtime/testing/fixture-image.js';
import { PROBE_SERVER, probeRunSpec } from '../../src/runtime/testing/probe-app.js';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');
const USER = 65532;
const isRoot = process.getuid?.() === 0;
const work = mkdtempSync(join(tmpdir(), 'cairn-rt-proc-'));
let image: FixtureImage;

/** Runs as the non-root user: prepare, start, look, stop — through the built driver in dist/. */
const SCRIPT = `
import { openImageStore } from '${REPO}/dist/artifact/index.js';
import { createProcessDriver, freeLoopbackPort } from '${REPO}/dist/runtime/index.js';
const [storeDir, digest, home] = process.argv.slice(2);
const warnings = [];
const driver = createProcessDriver({ bundlesDir: home + '/bundles', runtimeDir: home + '/rt', logsDir: home + '/logs', warn: (m) => warnings.push(m) });
const bundle = await driver.prepare({ digest, source: openImageStore(storeDir) });
const port = await freeLoopbackPort();
const run = { port: 8080, replicas: 1, health: { path: '/healthz', intervalMs: 200, timeoutMs: 500, healthyThreshold: 1, unhealthyThreshold: 3, startPeriodMs: 0 }, tmpfs: [], secrets: [], stopGraceMs: 2000 };
const handle = await driver.start({ id: 'ins-proc0000000000000000000000', releaseId: 'rel-p', service: 'probe', env: 'dev', bundle, run, port, vars: { GREETING: 'injected' } });
let seen;
for (let i = 0; i < 100 && !seen; i++) {
  seen = await fetch('http://127.0.0.1:' + port + '/').then((r) => r.json(), () => undefined);
  if (!seen) await new Promise((r) => setTimeout(r, 50));
}
const running = (await driver.inspect(handle)).status;
await driver.stop(handle, 2000);
console.log(JSON.stringify({ warnings, seen, running, afterStop: (await driver.inspect(handle)).status }));
`;

beforeAll(async () => {
  image = await buildProbeImage(join(work, 'image'), PROBE_SERVER);
  const home = join(work, 'home');
  mkdirSync(home);
  chownSync(home, USER, USER);
  chmodSync(work, 0o755);
  writeFileSync(join(work, 'run.mjs'), SCRIPT, { mode: 0o644 });
  await run('chmod', ['-R', 'a+rX', join(work, 'image')]);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.runIf(isRoot)('the process driver', () => {
  it('Given a non-root user, it runs the service from the bundle, warns, and isolates nothing', async () => {
    const { stdout } = await run(
      'setpriv',
      [
        `--reuid=${USER}`,
        `--regid=${USER}`,
        '--clear-groups',
        process.execPath,
        join(work, 'run.mjs'),
        image.storeDir,
        image.digest,
        join(work, 'home'),
      ],
      { timeout: 60_000 },
    );
    const out = JSON.parse(stdout) as {
      warnings: string[];
      seen: Record<string, unknown>;
      running: string;
      afterStop: string;
    };
    expect(out.warnings).toEqual([PROCESS_WARNING]);
    expect(out.running).toBe('running');
    // No isolation: the host's / (not a read-only bundle) and the host's /tmp (not a tmpfs).
    expect(out.seen).toMatchObject({ uid: USER, greeting: 'injected', writeRoot: 'EACCES' });
    expect(out.seen.pids as number).toBeGreaterThan(2);
    expect(out.afterStop).toBe('missing');
  });

  it('Given root, it refuses to start an instance', async () => {
    const dirs = {
      bundlesDir: join(work, 'root-bundles'),
      runtimeDir: join(work, 'root-rt'),
      logsDir: join(work, 'root-logs'),
    };
    const driver = createProcessDriver({ ...dirs, warn: () => {} });
    const bundle = await driver.prepare({ digest: image.digest, source: image.source });
    const start = driver.start({
      id: newInstanceId(),
      releaseId: 'rel-p',
      service: 'probe',
      env: 'dev',
      bundle,
      run: probeRunSpec(),
      port: await freeLoopbackPort(),
    });
    await expect(start).rejects.toBeInstanceOf(DriverError);
    await expect(start).rejects.toThrow(/does not run instances as root/);
    expect(await driver.list()).toEqual([]);
  });
});
