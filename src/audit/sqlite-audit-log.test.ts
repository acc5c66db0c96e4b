import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStateStore, type SqliteStateStore } from '../state/index.js';
import {
  type AuditLog,
  createAuditKey,
  openAuditLog,
  parseCheckpoint,
  verifyConsistency,
  verifyInclusion,
  verifyTlogProof,
} from './index.js';

let dir: string;
let store: SqliteStateStore;
let audit: AuditLog;
let clock: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-audit-'));
  createAuditKey(join(dir, 'keys'));
  store = createSqliteStateStore({ path: join(dir, 'state.db') });
  clock = Date.parse('2026-01-01T00:00:00Z');
  audit = openAuditLog(store, {
    keyDir: join(dir, 'keys'),
    now: () => new Date(clock),
    checkpointEveryEntries: 10,
  });
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Checkpoints due every N entries are signed once the recording turn of the event loop is over. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

const event = (i: number) => ({
  action: 'instance.start',
  subject: { service: i % 2 ? 'api' : 'web', env: 'dev', instance: `ins-${i}` },
});

describe('the audit key', () => {
  it('is an Ed25519 pair with the private half at 0600, and is never replaced', () => {
    expect(statSync(join(dir, 'keys', 'audit.key')).mode & 0o777).toBe(0o600);
    expect(audit.publicKey().asymmetricKeyType).toBe('ed25519');
    expect(() => createAuditKey(join(dir, 'keys'))).toThrow(/already exists/);
  });
});

describe('recording', () => {
  it('numbers entries from 0, defaults the actor to the OS user, and rolls back with the caller', () => {
    const first = store.transaction(() => audit.record(event(0)));
    expect(first.index).toBe(0);
    expect(first.actor).toMatch(/.+/);
    expect(first.time).toBe('2026-01-01T00:00:00.000Z');
    expect(() =>
      store.transaction(() => {
        audit.record(event(1));
        throw new Error('the state change failed');
      }),
    ).toThrow('the state change failed');
    expect(audit.size()).toBe(1);
    expect(store.transaction(() => audit.record(event(1))).index).toBe(1);
  });

  it('cannot be updated or deleted through SQL', () => {
    audit.record(event(0));
    expect(() => store.db.prepare("UPDATE audit_entries SET action = 'x'").run()).toThrow(/immutable/);
    expect(() => store.db.prepare('DELETE FROM audit_entries').run()).toThrow(/immutable/);
  });

  it('filters by service, env, time and subject', () => {
    for (let i = 0; i < 6; i++) {
      clock += 1000;
      audit.record(event(i));
    }
    expect(audit.list({ service: 'api' }).map((e) => e.index)).toEqual([1, 3, 5]);
    expect(audit.list({ env: 'prod' })).toEqual([]);
    expect(audit.list({ since: '2026-01-01T00:00:04Z' }).map((e) => e.index)).toEqual([3, 4, 5]);
    expect(audit.list({ touching: { instance: 'ins-2', release: 'nope' } }).map((e) => e.index)).toEqual([2]);
  });
});

describe('recording durably (group commit)', () => {
  it('acknowledges each caller once its entry is committed: another connection already reads it, and the checkpoints it made due', async () => {
    const entries = await Promise.all(Array.from({ length: 50 }, (_, i) => audit.recordDurably(event(i))));
    expect(entries.map((e) => e.index)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const other = new Database(join(dir, 'state.db'), { readonly: true });
    try {
      expect(other.prepare('SELECT count(*) FROM audit_entries').pluck().get()).toBe(50);
      // Signed in the batch's own transaction (one commit), not in a second one after it.
      expect(other.prepare('SELECT size FROM audit_checkpoints ORDER BY id').pluck().all()).toEqual([
        10, 20, 30, 40, 50,
      ]);
    } finally {
      other.close();
    }
    expect(audit.verify()).toMatchObject({ ok: true, entries: 50, signedSize: 50 });
  });

  it('refuses a malformed event alone, and a batch that cannot commit acknowledges nobody', async () => {
    const results = await Promise.allSettled([
      audit.recordDurably(event(0)),
      audit.recordDurably({ action: 'Not An Action', subject: {} }),
      audit.recordDurably(event(2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const locker = new Database(join(dir, 'state.db'));
    locker.exec('BEGIN IMMEDIATE');
    store.db.pragma('busy_timeout = 20');
    try {
      const blocked = await Promise.allSettled([
        audit.recordDurably(event(3)),
        audit.recordDurably(event(4)),
      ]);
      expect(blocked.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect(audit.size()).toBe(2);
    expect((await audit.recordDurably(event(5))).index).toBe(2);
  });
});

describe('checkpoints', () => {
  it('signs every N entries once the recording turn is over, on demand, on close, and when T has passed', async () => {
    for (let i = 0; i < 25; i++) audit.record(event(i));
    expect(audit.checkpoints()).toEqual([]);
    await nextTurn();
    expect(audit.checkpoints().map((c) => c.size)).toEqual([10, 20]);
    expect(audit.checkpointIfDue()).toBeUndefined();
    clock += 61_000;
    expect(audit.checkpointIfDue()?.size).toBe(25);
    audit.record(event(25));
    audit.close();
    expect(audit.latestCheckpoint()?.size).toBe(26);
    expect(audit.checkpoint().size).toBe(26);
    expect(audit.checkpoints()).toHaveLength(4);
  });

  it('verifies clean: every signature, every root, consistent, nothing unsigned', () => {
    for (let i = 0; i < 33; i++) audit.record(event(i));
    audit.close();
    const report = audit.verify();
    expect(report).toMatchObject({
      ok: true,
      entries: 33,
      checkpoints: 4,
      signedSize: 33,
      unsignedEntries: 0,
      findings: [],
    });
  });
});

describe('a tampered checkpoint frontier', () => {
  it('is reported by verify; appends still land, and an explicit checkpoint refuses to sign', async () => {
    for (let i = 0; i < 10; i++) audit.record(event(i));
    await nextTurn();
    store.db.exec('DROP TRIGGER audit_checkpoints_no_update');
    store.db.prepare('UPDATE audit_checkpoints SET frontier = ?').run(Buffer.alloc(32, 7));
    store.db.exec(
      "CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'no'); END",
    );
    expect(audit.verify().findings).toEqual([
      { checkpoint: 0, problem: 'checkpoint 0: the subtree hashes stored with it do not match its root' },
    ]);
    for (let i = 10; i < 25; i++) store.transaction(() => audit.record(event(i)));
    await nextTurn();
    expect(audit.size()).toBe(25);
    expect(audit.checkpoints()).toHaveLength(1);
    expect(() => audit.checkpoint()).toThrow(/does not match its root/);
  });
});

describe('proofs', () => {
  it('proves an entry against the latest checkpoint, signing one when the entry is not covered yet', () => {
    for (let i = 0; i < 13; i++) audit.record(event(i));
    const proof = audit.prove(12);
    expect(proof.checkpoint.size).toBe(13);
    const hashes = proof.hashes.map((h) => Buffer.from(h, 'hex'));
    const root = Buffer.from(proof.checkpoint.rootHash, 'hex');
    expect(verifyInclusion(12, 13, Buffer.from(proof.entry.leafHash, 'hex'), hashes, root)).toBe(true);
    expect(verifyTlogProof(proof.text, audit.publicKey())).toMatchObject({ ok: true, index: 12, size: 13 });
    expect(() => audit.prove(13)).toThrow(/proving entry 13: the log has 13 entries/);
  });

  it('proves that a checkpoint a monitor kept is consistent with the latest one', async () => {
    for (let i = 0; i < 23; i++) audit.record(event(i));
    await nextTurn();
    const kept = parseCheckpoint(audit.checkpoints()[0]!.note);
    audit.close();
    const proof = audit.proveConsistency(kept.size);
    const latest = parseCheckpoint(proof.checkpoint.note);
    const hashes = proof.hashes.map((h) => Buffer.from(h, 'hex'));
    expect([proof.size1, proof.size2]).toEqual([10, 23]);
    expect(verifyConsistency(10, 23, kept.rootHash, latest.rootHash, hashes)).toBe(true);
    expect(verifyConsistency(10, 23, latest.rootHash, latest.rootHash, hashes)).toBe(false);
  });
});
