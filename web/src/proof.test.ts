import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditLog, createAuditKey, openAuditLog, verifierKey } from '../../src/audit/index.js';
import { createSqliteStateStore, type SqliteStateStore } from '../../src/state/index.js';
import { type ProofInput, verifyProof } from './proof.js';

let dir: string;
let store: SqliteStateStore;
let audit: AuditLog;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-web-proof-'));
  createAuditKey(join(dir, 'keys'));
  store = createSqliteStateStore({ path: join(dir, 'state.db') });
  audit = openAuditLog(store, { keyDir: join(dir, 'keys') });
  for (let i = 0; i < 13; i++)
    audit.record({
      actor: 'alice@dashboard',
      action: 'rollout.abort',
      subject: { service: 'hello', env: 'dev' },
    });
  audit.checkpoint();
});

afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function proofOf(index: number): ProofInput {
  const p = audit.prove(index);
  return {
    index,
    bytes: p.bytes,
    hashes: p.hashes,
    checkpoint: p.checkpoint,
    verifierKey: verifierKey(audit.origin!, audit.publicKey()),
  };
}

describe('the browser proof check (WebCrypto)', () => {
  it('accepts every entry of a 13-entry log (odd sizes exercise the right edge)', async () => {
    for (let i = 0; i < 13; i++) {
      const verdict = await verifyProof(proofOf(i));
      expect(verdict, `entry ${i}`).toMatchObject({ ok: true, size: 13 });
      expect(verdict.root).toBe(audit.latestCheckpoint()!.rootHash);
    }
  });

  it('refuses a changed entry, a changed path, a wrong index, another key and a forged signature', async () => {
    const good = proofOf(5);
    const changed = { ...good, bytes: good.bytes.replace('alice', 'mallory') };
    expect(await verifyProof(changed)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/another root/),
    });
    const path = { ...good, hashes: [...good.hashes.slice(1), good.hashes[0]!] };
    expect((await verifyProof(path)).ok).toBe(false);
    expect((await verifyProof({ ...good, index: 6 })).ok).toBe(false);
    expect((await verifyProof({ ...good, index: 99 })).ok).toBe(false);
    const otherDir = mkdtempSync(join(tmpdir(), 'cairn-web-proof-other-'));
    createAuditKey(otherDir);
    const other = openAuditLog(store, { keyDir: otherDir });
    expect(
      await verifyProof({ ...good, verifierKey: verifierKey(audit.origin!, other.publicKey()) }),
    ).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/no signature/),
    });
    rmSync(otherDir, { recursive: true, force: true });
    const note = good.checkpoint.note;
    const forged = note.replace(/\n13\n/, '\n12\n');
    expect(await verifyProof({ ...good, checkpoint: { note: forged } })).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/signature is not valid/),
    });
  });
});
