/**
 * Runbook: a process appending to the audit log as fast as it can — standalone events by group
 * commit and state changes in their own transactions — is SIGKILLed mid-stream. Every entry it had
 * acknowledged is in the log afterwards, exactly as acknowledged, and `cairn audit verify` passes.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cairn, REPO_ROOT } from '../helpers/cli.js';

/** Prints `ack <index> <seq>` once an append is acknowledged; never stops by itself. */
const APPENDER = `
const [dist, stateDb, keyDir] = process.argv.slice(2);
const { openAuditLog } = await import(dist + '/audit/index.js');
const { createSqliteStateStore } = await import(dist + '/state/index.js');
const store = createSqliteStateStore({ path: stateDb });
const audit = openAuditLog(store, { keyDir, checkpointEveryEntries: 100 });
let seq = 0;
const event = () => ({ action: 'deploy.step', subject: { service: 'web', env: 'dev' }, detail: { seq: seq++ } });
const ack = (entry) => process.stdout.write('ack ' + entry.index + ' ' + entry.detail.seq + '\\n');
async function groupCaller() {
  for (;;) ack(await audit.recordDurably(event()));
}
function transactionCaller() {
  ack(store.transaction(() => audit.record(event())));
  setImmediate(transactionCaller);
}
for (let i = 0; i < 64; i++) groupCaller();
transactionCaller();
`;

const ACKS_BEFORE_KILL = 5000;
const KILL_DEADLINE_MS = 20_000;

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'cairn-audit-crash-'));
  cpSync(join(REPO_ROOT, 'examples/hello'), work, { recursive: true });
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** Runs the appender until it has acknowledged `count` entries (or the deadline), then SIGKILLs it. */
function appendThenKill(count: number): Promise<Map<number, number>> {
  const script = join(work, 'appender.mjs');
  writeFileSync(script, APPENDER);
  const dist = pathToFileURL(join(REPO_ROOT, 'dist')).href;
  const child = spawn(process.execPath, [
    script,
    dist,
    join(work, '.cairn', 'state.db'),
    join(work, '.cairn', 'keys'),
  ]);
  const acked = new Map<number, number>();
  let stderr = '';
  let rest = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_DEADLINE_MS);
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        const [, index, seq] = line.split(' ');
        acked.set(Number(index), Number(seq));
      }
      if (acked.size >= count) child.kill('SIGKILL');
    });
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`the appender stopped by itself: ${stderr}`));
    });
  });
}

describe('an appending process killed mid-stream', () => {
  it('loses no acknowledged entry, and the log verifies', async () => {
    // Given a workspace with a signed audit log
    expect(cairn(['init'], { cwd: work }).code).toBe(0);

    // When a process appending from 65 callers is SIGKILLed after thousands of acknowledgements
    const acked = await appendThenKill(ACKS_BEFORE_KILL);
    expect(acked.size).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);

    // Then every acknowledged entry is in the log, at its index, with what was acknowledged
    const db = new Database(join(work, '.cairn', 'state.db'), { readonly: true });
    const rows = new Map(
      (db.prepare('SELECT idx, entry FROM audit_entries').raw().all() as Array<[number, string]>).map(
        ([idx, entry]) => [idx, entry],
      ),
    );
    db.close();
    const lost = [...acked].filter(([index, seq]) => JSON.parse(rows.get(index) ?? '{}').detail?.seq !== seq);
    expect(lost).toEqual([]);
    expect(rows.size).toBeGreaterThanOrEqual(acked.size);

    // And an auditor verifies the log (the entries after the last checkpoint are only unsigned)
    const verify = cairn(['audit', 'verify', '--output', 'json'], { cwd: work });
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, entries: rows.size });
  });
});
