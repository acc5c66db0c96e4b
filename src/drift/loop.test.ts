import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuditLog, openAuditLog } from '../audit/index.js';
import { instanceRecord } from '../server/testing/instance-record.js';
import { createSqliteStateStore, type InstanceRecord, type SqliteStateStore } from '../state/index.js';
import type { DriftReport, DriftVerdict } from './index.js';
import { DriftLoop } from './loop.js';
import type { Replacements, UnknownInstances } from './remediation-runner.js';

const T0 = '2026-11-26T10:00:00.000Z';
const drifted: DriftVerdict = {
  status: 'drifted',
  notChecked: [],
  reasons: [{ kind: 'file', path: '/app/server.js', change: 'content', expected: 'a', observed: 'b' }],
};
const inSync: DriftVerdict = { status: 'in-sync', notChecked: [] };

function instance(id: string, state: InstanceRecord['state'] = 'healthy'): InstanceRecord {
  return instanceRecord(id, { state });
}

function report(id: string, verdict: DriftVerdict, recorded = true): DriftReport {
  return {
    instance: id,
    traffic: 'in',
    service: 'hello',
    env: 'dev',
    release: 'rel-000000000001',
    driver: 'runc',
    recorded,
    verdict,
  };
}

describe('DriftLoop in warn mode', () => {
  let dir: string;
  let store: SqliteStateStore;
  let audit: AuditLog;
  let next: () => DriftReport[];

  const loop = () =>
    new DriftLoop({
      store,
      audit,
      reconciler: {} as Replacements,
      instances: { isStarting: (id: string) => id === 'ins-3' } as unknown as UnknownInstances,
      actor: 'cairn-up',
      prepare: async () => {},
      runtime: { bundlesDir: join(dir, 'bundles'), runtimeDir: join(dir, 'runtime'), logsDir: dir },
      dirs: {
        storeDir: dir,
        bundlesDir: join(dir, 'bundles'),
        forensicsDir: join(dir, 'f'),
        workspaceRoot: dir,
      },
      settings: { dev: { mode: 'warn', intervalMs: 60_000, fastPath: false } },
      check: async () => next(),
    });
  const detected = () => audit.list().filter((e) => e.action === 'drift.detected');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-drift-loop-'));
    store = createSqliteStateStore({ path: join(dir, 'state.db') });
    audit = openAuditLog(store, { keyDir: dir });
    store.transaction((tx) => {
      tx.putRelease({
        id: 'rel-000000000001',
        service: 'hello',
        imageDigest: `sha256:${'a'.repeat(64)}`,
        configDigest: `sha256:${'b'.repeat(64)}`,
        config: {},
        createdAt: T0,
      });
      tx.putInstance(instance('ins-1'));
    });
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records a finding that persists once, and again after the instance was in sync in between', async () => {
    const l = loop();
    next = () => [report('ins-1', drifted)];
    await l.check('dev', 'interval');
    await l.check('dev', 'interval');
    expect(detected()).toHaveLength(1);
    next = () => [report('ins-1', inSync)];
    await l.check('dev', 'interval');
    next = () => [report('ins-1', drifted)];
    await l.check('dev', 'interval');
    expect(detected().map((e) => [e.actor, e.subject.instance])).toEqual([
      ['cairn-up', 'ins-1'],
      ['cairn-up', 'ins-1'],
    ]);
  });

  it('drops reports the store made stale during the check: a record stopped meanwhile, a container recorded meanwhile or being started', async () => {
    const l = loop();
    next = () => {
      store.transaction((tx) => {
        tx.putInstance(instance('ins-1', 'stopped'));
        tx.putInstance(instance('ins-2', 'starting'));
      });
      return [
        report('ins-1', { status: 'missing', detail: 'ins-1 should run and is missing' }),
        report('ins-2', { status: 'unknown', detail: 'ins-2 runs, but…' }, false),
        report('ins-3', { status: 'unknown', detail: 'ins-3 runs, but…' }, false),
        report('by-hand', { status: 'unknown', detail: 'by-hand runs, but…' }, false),
      ];
    };
    const reports = await l.check('dev', 'interval');
    expect(reports.map((r) => r.instance)).toEqual(['by-hand']);
    expect(detected().map((e) => e.subject.instance)).toEqual(['by-hand']);
  });

  it('shows the mode and the last check in its status, and replaces nothing', async () => {
    const l = loop();
    expect(l.statusView()).toEqual([
      { env: 'dev', mode: 'warn', intervalMs: 60_000, fastPath: false, checks: 0 },
    ]);
    next = () => [report('ins-1', drifted)];
    await l.check('dev', 'fast-path');
    expect(l.statusView()[0]).toMatchObject({
      checks: 1,
      lastCheck: { trigger: 'fast-path', instances: 1, notInSync: 1 },
    });
    expect(store.getInstance('ins-1')?.state).toBe('healthy');
    expect(audit.list().map((e) => e.action)).toEqual(['drift.detected']);
  });
});
