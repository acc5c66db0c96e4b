import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuditLog, openAuditLog } from '../audit/index.js';
import { instanceRecord } from '../server/testing/instance-record.js';
import { createSqliteStateStore, type InstanceRecord, type SqliteStateStore } from '../state/index.js';
import type { DriftReport, DriftVerdict } from './index.js';
import { DriftRemedy, type Replacements, type UnknownInstances } from './remediation-runner.js';

const T0 = '2026-11-26T10:00:00.000Z';
const IMAGE = `sha256:${'a'.repeat(64)}`;
const entered: DriftVerdict = {
  status: 'drifted',
  notChecked: [],
  reasons: [{ kind: 'process', pid: 7, args: ['sh'], detail: 'pid 7 (sh) was not started by the image' }],
};

function instance(id: string): InstanceRecord {
  return instanceRecord(id, { identity: { imageDigest: IMAGE } });
}

const report = (id: string): DriftReport => ({
  instance: id,
  traffic: 'in',
  service: 'hello',
  env: 'dev',
  release: 'rel-000000000001',
  driver: 'runc',
  recorded: true,
  verdict: entered,
});

describe('DriftRemedy in enforce mode', () => {
  let dir: string;
  let store: SqliteStateStore;
  let audit: AuditLog;
  let retired: Array<[string, string]>;
  let rechecks: number[];
  let remedy: DriftRemedy;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-drift-remedy-'));
    store = createSqliteStateStore({ path: join(dir, 'state.db') });
    audit = openAuditLog(store, { keyDir: dir });
    store.transaction((tx) => {
      tx.putRelease({
        id: 'rel-000000000001',
        service: 'hello',
        imageDigest: IMAGE,
        configDigest: `sha256:${'b'.repeat(64)}`,
        config: {},
        createdAt: T0,
      });
      for (const id of ['ins-1', 'ins-2']) tx.putInstance(instance(id));
    });
    retired = [];
    rechecks = [];
    const reconciler = {
      // The release already has enough instances without the drifted one: nothing to start.
      startReplacement: async () => undefined,
      retire: async (id: string, reason: string) => {
        retired.push([id, reason]);
      },
      forgetReplacement: () => {},
    } as unknown as Replacements;
    remedy = new DriftRemedy({
      store,
      audit,
      reconciler,
      instances: {} as UnknownInstances,
      actor: 'cairn-up',
      prepare: async () => {},
      dirs: {
        storeDir: dir,
        bundlesDir: join(dir, 'bundles'),
        forensicsDir: join(dir, 'forensics'),
        workspaceRoot: dir,
      },
      recheck: (_env, delayMs) => rechecks.push(delayMs),
    });
    remedy.seed([]);
  });

  afterEach(async () => {
    await remedy?.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('replaces one entered instance after keeping evidence, defers the next one of the same service and checks again when allowed', async () => {
    const actions = await remedy.act('dev', 'enforce', [report('ins-1'), report('ins-2')], 5000);
    expect(actions.map((a) => a.kind)).toEqual(['replace', 'defer']);
    await remedy.idle();
    expect(retired).toEqual([
      ['ins-1', expect.stringMatching(/^drift: drifted \(1 difference\(s\): processes\); not replaced/)],
    ]);
    expect(rechecks).toEqual([5000]);
    const [replace] = audit.list().filter((e) => e.action === 'drift.replace');
    expect(replace?.subject.instance).toBe('ins-1');
    const evidence = join(dir, String(replace?.detail?.forensics));
    expect(JSON.parse(readFileSync(join(evidence, 'report.json'), 'utf8')).report.instance).toBe('ins-1');
    expect(audit.list().filter((e) => e.action === 'drift.rebuild_bundle')).toEqual([]);

    // Still drifted at the next check, before the interval has passed: deferred, recorded once.
    await remedy.act('dev', 'enforce', [report('ins-2')], 5000);
    expect(
      audit
        .list()
        .filter((e) => e.action === 'drift.defer')
        .map((e) => e.subject.instance),
    ).toEqual(['ins-2']);
  });

  it('counts replacements from the audit log after a restart, one per round, and quarantines the fourth within the window', async () => {
    const now = Date.now();
    store.transaction(() => {
      // Two entries of one round (an altered bundle replaces every instance on it) count once.
      for (const pass of [1, 2, 2, 3])
        audit.record({
          action: 'drift.replace',
          subject: { service: 'hello', env: 'dev', instance: `old-${pass}` },
          detail: { round: pass },
        });
    });
    const quarantined: string[] = [];
    const restarted = new DriftRemedy({
      store,
      audit,
      reconciler: {
        quarantine: async (i: InstanceRecord) => quarantined.push(i.id),
      } as unknown as Replacements,
      instances: {} as UnknownInstances,
      actor: 'cairn-up',
      prepare: async () => {},
      dirs: {
        storeDir: dir,
        bundlesDir: join(dir, 'bundles'),
        forensicsDir: join(dir, 'forensics'),
        workspaceRoot: dir,
      },
      recheck: () => {},
    });
    restarted.seed([], now);
    const actions = await restarted.act('dev', 'enforce', [report('ins-1')], 60_000);
    await restarted.idle();
    expect(actions).toEqual([expect.objectContaining({ kind: 'quarantine', replacements: 3 })]);
    expect(quarantined).toEqual(['ins-1']);
    expect(existsSync(join(dir, 'forensics'))).toBe(true);
  });
});
