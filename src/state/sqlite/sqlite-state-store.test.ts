import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InstanceRecord, ReleaseRecord } from '../types.js';
import { createSqliteStateStore, type SqliteStateStore } from './sqlite-state-store.js';

const T0 = '2026-11-26T10:00:00.000Z';
const release = (id = 'rel-000000000001'): ReleaseRecord => ({
  id,
  service: 'hello',
  imageDigest: `sha256:${'a'.repeat(64)}`,
  configDigest: `sha256:${'b'.repeat(64)}`,
  config: { run: { port: 8080 } },
  createdAt: T0,
});
const instance = (over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  id: 'ins-1',
  releaseId: 'rel-000000000001',
  service: 'hello',
  env: 'dev',
  driver: 'runc',
  state: 'starting',
  handle: { container: 'c1' },
  identity: { image: 'sha256:aa' },
  createdAt: T0,
  updatedAt: T0,
  ...over,
});

describe('SqliteStateStore', () => {
  let dir: string;
  let store: SqliteStateStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-state-'));
    store = createSqliteStateStore({ path: join(dir, 'state.db') });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a release exactly as written, even against raw SQL', () => {
    store.transaction((tx) => tx.putRelease(release()));
    expect(store.getRelease('rel-000000000001')).toEqual({
      ...release(),
      sourceDigest: undefined,
      specCommit: undefined,
    });
    expect(() => store.db.prepare(`UPDATE releases SET image_digest = 'x'`).run()).toThrow(
      /releases are immutable/,
    );
    expect(() => store.db.prepare('DELETE FROM releases').run()).toThrow(/immutable/);
    expect(store.listReleases('hello')).toHaveLength(1);
  });

  it('accepts the same release twice but refuses a different one under the same id', () => {
    store.transaction((tx) => tx.putRelease(release()));
    store.transaction((tx) => tx.putRelease(release()));
    const other = { ...release(), imageDigest: `sha256:${'c'.repeat(64)}` };
    expect(() => store.transaction((tx) => tx.putRelease(other))).toThrow(
      /different release already has this id/,
    );
  });

  it('rolls back every write of a failed transaction', () => {
    expect(() =>
      store.transaction((tx) => {
        tx.putRelease(release());
        tx.appendEvent({ kind: 'release.created', detail: {} });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.listReleases()).toEqual([]);
    expect(store.listEvents()).toEqual([]);
  });

  it('updates an instance state but never its release or identity', () => {
    store.transaction((tx) => {
      tx.putRelease(release());
      tx.putInstance(instance());
    });
    store.transaction((tx) => tx.putInstance(instance({ state: 'healthy', endpoint: '127.0.0.1:4000' })));
    expect(store.listInstances({ env: 'dev', live: true }).map((i) => i.state)).toEqual(['healthy']);
    store.transaction((tx) => tx.putRelease(release('rel-000000000002')));
    expect(() =>
      store.transaction((tx) => tx.putInstance(instance({ releaseId: 'rel-000000000002' }))),
    ).toThrow(/start a new instance instead/);
  });

  it('lists instances as they are now, whoever wrote them and however often they are listed', () => {
    store.transaction((tx) => {
      tx.putRelease(release());
      tx.putInstance(instance());
    });
    const live = () => store.listInstances({ env: 'dev', live: true }).map((i) => `${i.id} ${i.state}`);
    expect(live()).toEqual(['ins-1 starting']);
    store.transaction((tx) => tx.putInstance(instance({ state: 'healthy' })));
    expect(live()).toEqual(['ins-1 healthy']);

    // A caller changing what it got changes nothing for the next one.
    const got = store.listInstances({ env: 'dev', live: true });
    got.pop();
    expect(() => Object.assign(store.listInstances()[0]!, { state: 'failed' })).toThrow();
    expect(live()).toEqual(['ins-1 healthy']);

    // Another connection (another process) stops it.
    const other = createSqliteStateStore({ path: join(dir, 'state.db') });
    try {
      other.transaction((tx) => tx.putInstance(instance({ state: 'stopped', stoppedAt: T0 })));
    } finally {
      other.close();
    }
    expect(live()).toEqual([]);
    expect(store.listInstances().map((i) => i.state)).toEqual(['stopped']);

    // A write that is rolled back is never listed, not even after a list inside its transaction.
    expect(() =>
      store.transaction((tx) => {
        tx.putInstance(instance({ id: 'ins-2' }));
        expect(tx.listInstances({ env: 'dev', live: true }).map((i) => i.id)).toEqual(['ins-2']);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(live()).toEqual([]);
  });

  it('lists the rollouts with work left, and those that finished since a time', () => {
    const rollout = (id: string, stage: string | undefined, finishedAt?: string) => ({
      id,
      service: 'hello',
      env: 'dev',
      toRelease: 'rel-000000000001',
      strategy: 'rolling',
      phase: finishedAt ? ('succeeded' as const) : ('progressing' as const),
      step: 0,
      state: stage === undefined ? {} : { stage },
      createdAt: `2026-11-26T10:00:0${id.at(-1)}.000Z`,
      updatedAt: T0,
      ...(finishedAt ? { finishedAt } : {}),
    });
    store.transaction((tx) => {
      tx.putRelease(release());
      tx.putDeployment(rollout('dep-1', 'done', '2026-11-26T10:00:00.000Z'));
      tx.putDeployment(rollout('dep-2', 'warm', '2026-11-26T10:05:00.000Z'));
      tx.putDeployment(rollout('dep-3', 'scaling'));
      tx.putDeployment(rollout('dep-4', undefined));
      tx.putDeployment(rollout('dep-5', 'done', '2026-11-26T10:05:00.000Z'));
    });
    const ids = (f: Parameters<SqliteStateStore['listDeployments']>[0]) =>
      store.listDeployments(f).map((d) => d.id);
    expect(ids({ unfinished: true })).toEqual(['dep-2', 'dep-3', 'dep-4']);
    expect(ids({ finishedSince: '2026-11-26T10:05:00.000Z' })).toEqual(['dep-2', 'dep-5']);
    expect(ids({ env: 'prod', unfinished: true })).toEqual([]);
  });

  it('moves targets and remembers the previous release', () => {
    store.transaction((tx) => {
      tx.putRelease(release('rel-000000000001'));
      tx.putRelease(release('rel-000000000002'));
      tx.setTarget({ env: 'dev', service: 'hello', releaseId: 'rel-000000000001', updatedAt: T0 });
      tx.setTarget({
        env: 'dev',
        service: 'hello',
        releaseId: 'rel-000000000002',
        previousReleaseId: 'rel-000000000001',
        updatedAt: T0,
      });
    });
    expect(store.getTarget('dev', 'hello')).toMatchObject({
      releaseId: 'rel-000000000002',
      previousReleaseId: 'rel-000000000001',
    });
  });

  it('appends events in order and never rewrites them', () => {
    store.transaction((tx) => {
      tx.appendEvent({ kind: 'a', env: 'dev', detail: { n: 1 } });
      tx.appendEvent({ kind: 'b', env: 'prod', detail: { n: 2 } });
    });
    expect(store.listEvents().map((e) => [e.seq, e.kind])).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
    expect(store.listEvents({ env: 'prod' })).toHaveLength(1);
    expect(() => store.db.prepare(`UPDATE events SET kind = 'c'`).run()).toThrow(/immutable/);
  });

  it('reopens an existing database without re-running migrations', () => {
    store.transaction((tx) => tx.putRelease(release()));
    store.close();
    store = createSqliteStateStore({ path: join(dir, 'state.db') });
    expect(store.listReleases()).toHaveLength(1);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
  });
});

describe('SqliteStateStore serving', () => {
  it('remembers desired instances and weights per service across a reopen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-state-'));
    try {
      let store = createSqliteStateStore({ path: join(dir, 'state.db') });
      const serving = {
        env: 'dev',
        service: 'hello',
        replicas: { 'rel-a': 2, 'rel-b': 1 },
        weights: [
          { release: 'rel-a', weight: 80 },
          { release: 'rel-b', weight: 20 },
        ],
        updatedAt: T0,
      };
      store.transaction((tx) => tx.setServing(serving));
      store.transaction((tx) => tx.setServing({ ...serving, replicas: { 'rel-b': 2 } }));
      store.close();
      store = createSqliteStateStore({ path: join(dir, 'state.db') });
      expect(store.getServing('dev', 'hello')).toEqual({ ...serving, replicas: { 'rel-b': 2 } });
      expect(store.listServing('prod')).toEqual([]);
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
