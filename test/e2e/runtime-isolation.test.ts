/**
 * Immutable and hardened, as a user would check it: examples/hello built by cairn's builder and run
 * by the runc driver cannot write its root or its app folder, runs as uid 65532, sees no host
 * process and holds no capability; bwrap gives the same; a tampered image never starts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, newInstanceId } from '../../src/lib/index.js';
import {
  createRuntimeDriver,
  detectDrivers,
  freeLoopbackPort,
  type InstanceHandle,
  type RuntimeDriver,
} from '../../src/runtime/index.js';
import { waitFor } from '../../src/runtime/proc.js';
import {
  buildHelloImage,
  buildProbeImage,
  type FixtureImage,
} from '../../src/runtime/testing/fixture-image.js';
import { PROBE_SERVER, probeRunSpec } from '../../src/runtime/testing/probe-app.js';

const REPO = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'cairn-rt-iso-'));
const usable = new Set(
  detectDrivers()
    .filter((d) => d.usable)
    .map((d) => d.kind),
);
const runcRoot = join(work, 'runc-rt', 'runc');
let hello: FixtureImage;
let probe: FixtureImage;
const started: Array<[RuntimeDriver, InstanceHandle]> = [];

const dirsFor = (kind: string) => ({
  bundlesDir: join(work, 'bundles'),
  runtimeDir: join(work, `${kind}-rt`),
  logsDir: join(work, `${kind}-logs`),
});

async function startIn(driver: RuntimeDriver, image: FixtureImage, secrets?: Record<string, string>) {
  const bundle = await driver.prepare({ digest: image.digest, source: image.source });
  const port = await freeLoopbackPort();
  const handle = await driver.start({
    id: newInstanceId(),
    releaseId: 'rel-0123456789ab',
    service: 'hello',
    env: 'dev',
    bundle,
    run: probeRunSpec({ tmpfs: ['/tmp'] }),
    port,
    ...(secrets ? { secrets } : {}),
  });
  started.push([driver, handle]);
  const up = await waitFor(
    async () => (await fetch(`http://${handle.endpoint}/healthz`).catch(() => undefined))?.ok === true,
    5000,
  );
  expect(up, readFileSync(handle.logPath, 'utf8')).toBe(true);
  return handle;
}

/** Runs node inside a running runc container, as the container's own user and limits. */
function execInside(id: string, script: string): string {
  return execFileSync('runc', ['--root', runcRoot, 'exec', id, 'node', '-e', script], { encoding: 'utf8' });
}

beforeAll(async () => {
  hello = await buildHelloImage(REPO, join(work, 'hello'));
  probe = await buildProbeImage(join(work, 'probe'), PROBE_SERVER);
});

afterAll(async () => {
  for (const [driver, handle] of started) await driver.stop(handle, 0).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

describe.runIf(usable.has('runc'))('runc: an instance of examples/hello', () => {
  let id: string;
  beforeAll(async () => {
    id = (await startIn(createRuntimeDriver('runc', dirsFor('runc')), hello, { API_TOKEN: 'tok-123' })).id;
  });

  it('Then writing to / or /app fails with EROFS, and only /tmp is writable', () => {
    const out = execInside(
      id,
      `const fs=require('fs');const w=(p)=>{try{fs.writeFileSync(p,'x');return 'ok'}catch(e){return e.code}};
       console.log(JSON.stringify([w('/x'),w('/app/x'),w('/etc/hello/config.json'),w('/tmp/x')]))`,
    );
    expect(JSON.parse(out)).toEqual(['EROFS', 'EROFS', 'EROFS', 'ok']);
  });

  it('Then it runs as uid 65532 with no capabilities and no new privileges', () => {
    const status = execInside(id, `console.log(require('fs').readFileSync('/proc/1/status','utf8'))`);
    expect(status).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
      expect(status).toMatch(new RegExp(`^${cap}:\\s+0000000000000000$`, 'm'));
    }
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
  });

  it('Then it sees no host process: only its own server and the probe', () => {
    const pids = JSON.parse(
      execInside(
        id,
        `console.log(JSON.stringify(require('fs').readdirSync('/proc').filter(n=>/^\\d+$/.test(n))))`,
      ),
    );
    expect(pids.length).toBeLessThanOrEqual(2);
    expect(pids).toContain('1');
  });

  it('Then its secret is a read-only file under /run/secrets', () => {
    const out = execInside(
      id,
      `const fs=require('fs');let w;try{fs.writeFileSync('/run/secrets/API_TOKEN','x');w='ok'}catch(e){w=e.code}
       console.log(JSON.stringify([fs.readFileSync('/run/secrets/API_TOKEN','utf8'),w]))`,
    );
    expect(JSON.parse(out)).toEqual(['tok-123', 'EROFS']);
  });
});

describe.runIf(usable.has('bwrap'))('bwrap: an instance of the probe service', () => {
  it('Then / and /app are read-only, /tmp is writable, it is uid 65532 without capabilities, alone', async () => {
    const handle = await startIn(createRuntimeDriver('bwrap', dirsFor('bwrap')), probe);
    const seen = (await (await fetch(`http://${handle.endpoint}/`)).json()) as Record<string, unknown>;
    expect(seen).toMatchObject({ uid: 65532, writeRoot: 'EROFS', writeApp: 'EROFS', writeTmp: 'ok' });
    const status = seen.status as Record<string, string>;
    expect(status.CapEff).toBe('0000000000000000');
    expect(status.CapBnd).toBe('0000000000000000');
    expect(status.NoNewPrivs).toBe('1');
    expect(seen.pids).toBeLessThanOrEqual(2);
  });
});

describe.runIf(usable.has('runc'))('a tampered blob in the image store', () => {
  it('Then prepare refuses it with an integrity error, and no bundle and no instance exist', async () => {
    const dirs = { ...dirsFor('tamper'), bundlesDir: join(work, 'tamper-bundles') };
    const driver = createRuntimeDriver('runc', dirs);
    const manifest = JSON.parse((await hello.source.readBlob(hello.digest)).toString()) as {
      layers: Array<{ digest: string }>;
    };
    const layer = manifest.layers.at(-1)!.digest;
    const path = join(hello.storeDir, 'blobs', 'sha256', layer.slice('sha256:'.length));
    const original = readFileSync(path);
    writeFileSync(
      path,
      Buffer.concat([original.subarray(0, original.length - 1), Buffer.from([original.at(-1)! ^ 1])]),
    );
    try {
      const attempt = driver.prepare({ digest: hello.digest, source: hello.source });
      await expect(attempt).rejects.toBeInstanceOf(IntegrityError);
    } finally {
      writeFileSync(path, original);
    }
    expect(existsSync(dirs.bundlesDir) ? readdirSync(dirs.bundlesDir) : []).toEqual([]);
    expect(await driver.list()).toEqual([]);
  });
});
