import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../audit/index.js';
import { createWorkloadCa, loadWorkloadCa, type WorkloadCa } from '../identity/index.js';
import { privateRoot, secretsDirOf, svidDirOf, writeSvidFiles } from '../runtime/index.js';
import type { InstanceRecord, InstanceState } from '../state/index.js';
import { InstanceIdentity } from './instance-identity.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-instance-identity-'));
const runtime = { runtimeDir: join(dir, 'runtime') };
const TTL_MS = 10_000;
let ca: WorkloadCa;

beforeAll(async () => {
  await createWorkloadCa(join(dir, 'keys'));
  ca = await loadWorkloadCa(join(dir, 'keys'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  // The SVID files (keys among them) live in the instances' private root, in memory: remove it too.
  rmSync(privateRoot(runtime), { recursive: true, force: true });
});

function setup(drifted: string[] = []) {
  const events: AuditEvent[] = [];
  const identity = new InstanceIdentity({
    ca,
    config: { trustDomain: 'shop.cairn', svidTtlMs: TTL_MS, hopPort: 7443 },
    runtime,
    record: (e) => events.push(e),
    isDrifted: (id) => drifted.includes(id),
  });
  return { identity, events };
}

const record = (id: string, state: InstanceState): InstanceRecord =>
  ({ id, state, env: 'prod', service: 'api', releaseId: 'rel-0123456789ab' }) as InstanceRecord;

async function started(identity: InstanceIdentity, id: string, at: Date) {
  const { files, event } = await identity.issue(
    { env: 'prod', service: 'api', release: 'rel-0123456789ab', instance: id },
    at,
  );
  await writeSvidFiles(secretsDirOf(runtime, id), files);
  return event;
}

const certOf = (id: string) =>
  new X509Certificate(readFileSync(join(svidDirOf(secretsDirOf(runtime, id)), 'svid.pem')));

describe('instance identity', () => {
  it('issues at start with an audit entry naming serial, ID, instance, release and expiry', async () => {
    const { identity } = setup();
    const event = await started(identity, 'ins-a', new Date());
    expect(event).toMatchObject({
      action: 'identity.svid.issue',
      subject: { instance: 'ins-a', release: 'rel-0123456789ab', service: 'api', env: 'prod' },
      detail: {
        spiffeId: 'spiffe://shop.cairn/prod/api',
        serial: certOf('ins-a').serialNumber.toLowerCase(),
      },
    });
    const key = join(svidDirOf(secretsDirOf(runtime, 'ins-a')), 'svid-key.pem');
    expect(statSync(key).mode & 0o777).toBe(0o400);
  });

  it('renews at half-life, in place, and records it', async () => {
    const { identity, events } = setup();
    const t0 = new Date();
    await started(identity, 'ins-b', t0);
    const before = certOf('ins-b').serialNumber;
    expect(
      await identity.renewDue([record('ins-b', 'healthy')], new Date(t0.getTime() + TTL_MS / 2 - 1000)),
    ).toEqual([]);
    expect(
      await identity.renewDue([record('ins-b', 'healthy')], new Date(t0.getTime() + TTL_MS / 2)),
    ).toEqual(['ins-b']);
    expect(certOf('ins-b').serialNumber).not.toBe(before);
    expect(identity.current('ins-b')?.serial).toBe(certOf('ins-b').serialNumber.toLowerCase());
    expect(events).toMatchObject([{ action: 'identity.svid.issue', detail: { renewal: true } }]);
  });

  it('never renews a quarantined, stopped or drifted instance', async () => {
    const { identity, events } = setup(['ins-d']);
    const t0 = new Date();
    for (const id of ['ins-q', 'ins-s', 'ins-d']) await started(identity, id, t0);
    const later = new Date(t0.getTime() + TTL_MS);
    const renewed = await identity.renewDue(
      [record('ins-q', 'quarantined'), record('ins-s', 'stopped'), record('ins-d', 'healthy')],
      later,
    );
    expect(renewed).toEqual([]);
    expect(events).toEqual([]);
  });

  it('finds the expiry of an adopted instance in its files', async () => {
    const first = setup();
    const t0 = new Date(Date.now() - TTL_MS);
    await started(first.identity, 'ins-r', t0);
    const { identity } = setup();
    expect(await identity.renewDue([record('ins-r', 'healthy')])).toEqual(['ins-r']);
    expect(await identity.renewDue([record('ins-none', 'healthy')])).toEqual([]);
  });
});
