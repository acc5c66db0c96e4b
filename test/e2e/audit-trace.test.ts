/**
 * `cairn trace`: from what runs back to where it came from. Given releases, attestations, an
 * instance and audit entries in a real workspace, the chain and the entries that touched it print.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditLog } from '../../src/audit/index.js';
import { releaseId, sha256Digest } from '../../src/lib/index.js';
import { openStateStore, workspaceFor } from '../../src/state/index.js';
import { cairn, REPO_ROOT } from '../helpers/cli.js';

let work: string;
const IMAGE = sha256Digest('image v1');
const UNSIGNED = sha256Digest('image v2');
const CONFIG = sha256Digest('config');
const SIGNED_RELEASE = releaseId('hello', IMAGE, CONFIG);
const UNSIGNED_RELEASE = releaseId('hello', UNSIGNED, CONFIG);
const INSTANCE = 'ins-01jtrace0000000000000000';
const run = (...args: string[]) => cairn(args, { cwd: work });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'cairn-trace-'));
  cpSync(join(REPO_ROOT, 'examples/hello'), work, { recursive: true });
  expect(run('init').code).toBe(0);
  const ws = workspaceFor(join(work, 'cairn.yaml'), {});
  const store = openStateStore(ws);
  const audit = openAuditLog(store, { keyDir: ws.keys });
  const now = new Date().toISOString();
  const release = (id: string, imageDigest: string) => ({
    id,
    service: 'hello',
    imageDigest,
    configDigest: CONFIG,
    config: {},
    specCommit: 'a1b2c3d4e5f6',
    createdAt: now,
  });
  store.transaction((tx) => {
    tx.putRelease(release(SIGNED_RELEASE, IMAGE));
    tx.addAttestation({
      releaseId: SIGNED_RELEASE,
      kind: 'signature',
      digest: sha256Digest('sig'),
      mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      createdAt: now,
    });
    tx.addAttestation({
      releaseId: SIGNED_RELEASE,
      kind: 'sbom',
      digest: sha256Digest('sbom'),
      mediaType: 'application/vnd.cyclonedx+json',
      createdAt: now,
    });
    audit.record({
      action: 'build.image',
      subject: { service: 'hello', release: SIGNED_RELEASE, image: IMAGE },
      digestAfter: IMAGE,
    });
    audit.record({
      action: 'sign.image',
      subject: { service: 'hello', image: IMAGE },
      digestAfter: sha256Digest('sig'),
    });
    tx.putRelease(release(UNSIGNED_RELEASE, UNSIGNED));
    audit.record({
      action: 'build.image',
      subject: { service: 'hello', release: UNSIGNED_RELEASE, image: UNSIGNED },
    });
    tx.putInstance({
      id: INSTANCE,
      releaseId: SIGNED_RELEASE,
      service: 'hello',
      env: 'dev',
      driver: 'process',
      state: 'healthy',
      endpoint: '127.0.0.1:4100',
      handle: {},
      identity: {},
      createdAt: now,
      updatedAt: now,
    });
    audit.record({
      action: 'instance.start',
      subject: { service: 'hello', env: 'dev', release: SIGNED_RELEASE, instance: INSTANCE },
    });
  });
  audit.close();
  store.close();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('cairn trace', () => {
  it('Given a running instance, prints instance → release → image → signature → provenance → commit and its entries', () => {
    const r = run('trace', INSTANCE);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^instance +${INSTANCE} +hello@dev +healthy`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^release +${SIGNED_RELEASE} `, 'm'));
    expect(r.stdout).toContain(`image       ${IMAGE}`);
    expect(r.stdout).toContain(`signature   signature ${sha256Digest('sig')}`);
    expect(r.stdout).toContain(`attestation sbom ${sha256Digest('sbom')}`);
    expect(r.stdout).toContain('provenance  none recorded');
    expect(r.stdout).toContain('sbom        none recorded');
    expect(r.stdout).toContain(`image       ${IMAGE}  (not in the local image store`);
    expect(r.stdout).toContain('source      commit none recorded; spec commit at release a1b2c3d4e5f6');
    expect(r.stdout).toContain('audit entries (3):');
    expect(r.stdout).toMatch(/#2 .* build\.image/);
    expect(r.stdout).toMatch(/#3 .* sign\.image/);
    expect(r.stdout).toMatch(/#5 .* instance\.start/);
    expect(r.stdout).not.toMatch(/#4 /);
  });

  it('Given an unsigned image digest, says "none recorded" instead of failing', () => {
    const r = run('trace', UNSIGNED, '--output', 'json');
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout);
    expect(t.releases.map((x: { id: string }) => x.id)).toEqual([UNSIGNED_RELEASE]);
    expect(t.signatures).toEqual([]);
    expect(t.entries.map((e: { index: number }) => e.index)).toEqual([4]);
    expect(run('trace', UNSIGNED).stdout).toContain('signature   none recorded');
  });

  it('Given an id that does not exist, exits 1 with a hint and no stack trace', () => {
    const r = run('trace', 'rel-000000000000');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: tracing rel-000000000000: no release with this id/);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    expect(run('trace', 'banana').code).toBe(1);
  });
});
