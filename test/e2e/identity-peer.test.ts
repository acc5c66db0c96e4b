/**
 * Peer check: the SVIDs cairn issues verify with go-spiffe v2 (`x509svid.ParseAndVerify`), a SPIFFE
 * implementation not written here, built from testbed/spiffe-check. Skipped, saying why, where no
 * Go toolchain is installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkloadCa, issueSvid, loadWorkloadCa, type WorkloadCa } from '../../src/identity/index.js';
import { REPO_ROOT } from '../helpers/cli.js';

const hasGo = spawnSync('go', ['version']).status === 0;
if (!hasGo) console.warn('identity-peer: skipped — no Go toolchain (`go`) to build testbed/spiffe-check');

describe.runIf(hasGo)('SVIDs checked by go-spiffe v2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-spiffe-peer-'));
  const bin = join(dir, 'spiffe-check');
  const subject = {
    trustDomain: 'shop.cairn',
    env: 'prod',
    service: 'api',
    release: 'rel-0123456789ab',
    instance: 'ins-01peer',
  };
  let ca: WorkloadCa;
  const check = (td: string, svidPem: string) => {
    writeFileSync(join(dir, 'svid.pem'), svidPem);
    return spawnSync(bin, [td, join(dir, 'keys', 'workload-ca.pem'), join(dir, 'svid.pem')], {
      encoding: 'utf8',
    });
  };

  beforeAll(async () => {
    execFileSync('go', ['build', '-o', bin, '.'], {
      cwd: join(REPO_ROOT, 'testbed', 'spiffe-check'),
      stdio: 'inherit',
    });
    await createWorkloadCa(join(dir, 'keys'));
    ca = await loadWorkloadCa(join(dir, 'keys'));
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('Given an SVID of the workspace CA, Then ParseAndVerify accepts it and reads its SPIFFE ID', async () => {
    const r = check('shop.cairn', (await issueSvid(ca, subject, 60_000)).certPem);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('spiffe://shop.cairn/prod/api');
  });

  it('Given an SVID of another CA, or of another trust domain, Then ParseAndVerify refuses it', async () => {
    await createWorkloadCa(join(dir, 'forger'));
    const forged = await issueSvid(await loadWorkloadCa(join(dir, 'forger')), subject, 60_000);
    expect(check('shop.cairn', forged.certPem)).toMatchObject({
      status: 1,
      stdout: expect.stringMatching(/refused/),
    });
    const other = await issueSvid(ca, { ...subject, trustDomain: 'evil.example' }, 60_000);
    expect(check('shop.cairn', other.certPem).status).toBe(1);
  });
});
