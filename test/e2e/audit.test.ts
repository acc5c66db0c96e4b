/**
 * The audit log as a user and an auditor meet it: `cairn init` starts a signed log, capabilities
 * record into it, `cairn audit verify` proves it intact — and names the index when someone edits,
 * deletes, reorders, forks it or forges a checkpoint signature in the SQLite file.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAuditLog } from '../../src/audit/index.js';
import { openStateStore, workspaceFor } from '../../src/state/index.js';
import { cairn, REPO_ROOT } from '../helpers/cli.js';

let work: string;
let db: string;
const run = (...args: string[]) => cairn(args, { cwd: work });

/** Given a workspace whose log holds init's 2 entries and 20 deploy steps, signed every 5 entries. */
function givenARecordedLog(): void {
  expect(run('init').code).toBe(0);
  const ws = workspaceFor(join(work, 'cairn.yaml'), {});
  const store = openStateStore(ws);
  const audit = openAuditLog(store, { keyDir: ws.keys, checkpointEveryEntries: 5 });
  for (let i = 0; i < 20; i++) {
    store.transaction(() =>
      audit.record({
        action: 'deploy.step',
        subject: {
          service: i % 2 ? 'api' : 'web',
          env: 'dev',
          release: `rel-${String(i).padStart(12, '0')}`,
        },
        reason: `change ${String(i).padStart(2, '0')}`,
      }),
    );
  }
  audit.close();
  store.close();
}

/** Runs SQL as an attacker with a sqlite shell would: dropping the append-only triggers first. */
function tamper(sql: string, keepTriggersOff = false): void {
  const conn = new Database(db);
  const triggers = conn
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'audit_%'")
    .all() as Array<{
    name: string;
    sql: string;
  }>;
  for (const t of triggers) conn.exec(`DROP TRIGGER ${t.name}`);
  conn.exec(sql);
  if (!keepTriggersOff) for (const t of triggers) conn.exec(t.sql);
  conn.close();
}

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'cairn-audit-e2e-'));
  cpSync(join(REPO_ROOT, 'examples/hello'), work, { recursive: true });
  db = join(work, '.cairn', 'state.db');
  givenARecordedLog();
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('an intact log', () => {
  it('verifies: every entry, every checkpoint, nothing left unsigned', () => {
    const r = run('audit', 'verify', '--output', 'json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      entries: 22,
      checkpoints: 5,
      signedSize: 22,
      unsignedEntries: 0,
    });
  });

  it('warns about entries not yet under a checkpoint until `audit checkpoint` signs them', () => {
    const ws = workspaceFor(join(work, 'cairn.yaml'), {});
    const store = openStateStore(ws);
    const audit = openAuditLog(store, { keyDir: ws.keys });
    for (let i = 0; i < 3; i++) audit.record({ action: 'instance.start', subject: { service: 'web' } });
    store.close();
    const before = run('audit', 'verify');
    expect(before.code, before.stderr).toBe(0);
    expect(before.stderr).toContain('warning: the last 3 entries are not covered by a checkpoint yet');
    const signed = run('audit', 'checkpoint');
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toMatch(/^cairn\.local\/audit\/[0-9a-f]{8}\n25\n[A-Za-z0-9+/]{43}=\n\n— /);
    const after = run('audit', 'verify');
    expect(after.stderr).toBe('');
    expect(after.stdout).toContain('25 entries, 6 checkpoints');
  });

  it('lists what happened, filtered by service', () => {
    const r = run('audit', 'log', '--service', 'api');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(10);
    expect(lines[0]).toMatch(/^#3 \S+ \S+ deploy\.step api@dev rel-000000000001 — change 01$/);
    expect(run('audit', 'log', '--since', 'yesterday').code).toBe(1);
  });

  it('exports a file an auditor verifies on another machine with only the public key, and an edited export fails', () => {
    const auditor = mkdtempSync(join(tmpdir(), 'cairn-auditor-'));
    try {
      writeFileSync(join(auditor, 'audit.export'), run('audit', 'export').stdout);
      copyFileSync(join(work, '.cairn', 'keys', 'audit.pub'), join(auditor, 'audit.pub'));
      const ok = cairn(['audit', 'verify', '--export', 'audit.export', '--key', 'audit.pub'], {
        cwd: auditor,
      });
      expect(ok.stdout).toContain('verified audit.export: 22 entries, 5 checkpoints');
      expect(ok.code, ok.stderr).toBe(0);

      const text = readFileSync(join(auditor, 'audit.export'), 'utf8');
      writeFileSync(join(auditor, 'audit.export'), text.replace('change 13', 'change 31'));
      const bad = cairn(['audit', 'verify', '--export', 'audit.export', '--key', 'audit.pub'], {
        cwd: auditor,
      });
      expect(bad.code, bad.stderr).toBe(3);
      // Without stored leaf hashes, an edit is located to the checkpoint interval that holds it.
      expect(bad.stderr).toContain('tampered with at index 12');
      expect(bad.stderr).toMatch(/the root signed for size 17 does not match entries 12\.\.16/);

      // A line removed from the export shifts every later entry: caught at the exact index.
      const lines = text.split('\n');
      lines.splice(1 + 5 + 9, 1); // header, 5 checkpoints, then entry 9
      writeFileSync(join(auditor, 'audit.export'), lines.join('\n'));
      const cut = cairn(['audit', 'verify', '--export', 'audit.export', '--key', 'audit.pub'], {
        cwd: auditor,
      });
      expect(cut.code, cut.stderr).toBe(3);
      expect(cut.stderr).toContain('tampered with at index 9');
      expect(cut.stderr).toMatch(/index 9: entry says it is index 10/);

      const noKey = cairn(['audit', 'verify', '--export', 'audit.export'], { cwd: auditor });
      expect(noKey.code).toBe(1);
      expect(noKey.stderr).toMatch(/--key PUB is required/);
    } finally {
      rmSync(auditor, { recursive: true, force: true });
    }
  });

  it('proves one entry in a file that verifies with the public key alone', () => {
    const proof = run('audit', 'prove', '9');
    expect(proof.code, proof.stderr).toBe(0);
    writeFileSync(join(work, 'entry9.tlog-proof'), proof.stdout);
    const r = run('audit', 'verify', '--proof', 'entry9.tlog-proof', '--key', '.cairn/keys/audit.pub');
    expect(r.stdout).toMatch(/entry 9 is in the log of 22/);
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(join(work, 'entry9.tlog-proof'), proof.stdout.replace('index 9', 'index 8'));
    expect(
      run('audit', 'verify', '--proof', 'entry9.tlog-proof', '--key', '.cairn/keys/audit.pub').code,
    ).toBe(3);
  });
});

describe('tampering is detected and the index named (exit 3)', () => {
  it('Given an entry edited byte for byte in the SQLite file', () => {
    // Every copy of the record in the file (a page split can leave a stale one in a free page).
    const bytes = readFileSync(db);
    let copies = 0;
    for (
      let at = bytes.indexOf('"reason":"change 09"');
      at >= 0;
      at = bytes.indexOf('"reason":"change 09"', at + 1)
    ) {
      bytes.write('"reason":"change 90"', at);
      copies++;
    }
    expect(copies).toBeGreaterThan(0);
    writeFileSync(db, bytes);
    const r = run('audit', 'verify');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('tampered with at index 11');
    expect(r.stderr).toMatch(/index 11: entry bytes do not match the leaf hash/);
  });

  it('Given an entry deleted', () => {
    tamper('DELETE FROM audit_entries WHERE idx = 8');
    const r = run('audit', 'verify');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('index 8: entries 8..8 are missing');
  });

  it('Given two entries swapped', () => {
    tamper(`UPDATE audit_entries SET idx = -1 WHERE idx = 5; UPDATE audit_entries SET idx = 5 WHERE idx = 6;
            UPDATE audit_entries SET idx = 6 WHERE idx = -1;`);
    const r = run('audit', 'verify');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('index 5: entry says it is index 6');
  });

  it('Given the log truncated to an earlier checkpoint and different entries appended (a fork)', () => {
    tamper('DELETE FROM audit_entries WHERE idx >= 12');
    const ws = workspaceFor(join(work, 'cairn.yaml'), {});
    const store = openStateStore(ws);
    const audit = openAuditLog(store, { keyDir: ws.keys });
    for (let i = 0; i < 10; i++)
      audit.record({ action: 'deploy.step', subject: { service: 'web' }, reason: 'rewritten history' });
    store.close();
    const r = run('audit', 'verify');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('tampered with at index 12');
    expect(r.stderr).toMatch(/checkpoint 3: the root signed for size 17 does not match entries 12\.\.16/);
  });

  it('Given a checkpoint signature replaced by one from another key', () => {
    const forger = generateKeyPairSync('ed25519');
    const note = (
      new Database(db).prepare('SELECT note FROM audit_checkpoints WHERE size = 12').pluck().get() as string
    ).split('\n');
    const blob = Buffer.from(note[4]!.split(' ')[2]!, 'base64');
    const forged = Buffer.concat([
      blob.subarray(0, 4),
      sign(null, Buffer.from(`${note.slice(0, 3).join('\n')}\n`), forger.privateKey),
    ]);
    note[4] = `${note[4]!.split(' ').slice(0, 2).join(' ')} ${forged.toString('base64')}`;
    tamper(`UPDATE audit_checkpoints SET note = '${note.join('\n')}' WHERE size = 12`);
    const r = run('audit', 'verify');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/index 7: checkpoint 2: signature by key [0-9a-f]{8} does not verify/);
  });

  it('Given the append-only triggers dropped, verify says the tables can be rewritten', () => {
    tamper('SELECT 1', true);
    const r = run('audit', 'verify');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/append-only triggers were removed/);
  });
});
