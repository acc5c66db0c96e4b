import { randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromCommand } from '../../src/audit/index.js';
import { workspaceFor } from '../../src/state/index.js';
import { type CliResult, cairn, REPO_ROOT } from '../helpers/cli.js';

// Given a workspace whose state.db was damaged (pages overwritten in the middle, or cut short),
// when a user runs cairn, then every command names the file and what to do, exits 1, and
// `cairn up` leaves no api.json pointing at a control plane that never started.
let dir: string;
let db: string;
let pristine: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-corrupt-'));
  cpSync(join(REPO_ROOT, 'examples/hello'), dir, { recursive: true });
  expect(cairn(['init'], { cwd: dir }).code).toBe(0);
  const events = Array.from({ length: 5_000 }, (_, i) => ({
    actor: 'test',
    action: 'image.sign',
    subject: { image: `sha256:${String(i).padStart(64, '0')}` },
    detail: { note: 'x'.repeat(200) },
  }));
  recordFromCommand(workspaceFor(join(dir, 'cairn.yaml'), {}), events);
  db = join(dir, '.cairn/state.db');
  pristine = join(dir, 'state.db.good');
  copyFileSync(db, pristine);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function restore(): void {
  copyFileSync(pristine, db);
  for (const f of ['-wal', '-shm']) rmSync(`${db}${f}`, { force: true });
}

function overwriteMiddle(): void {
  const fd = openSync(db, 'r+');
  writeSync(fd, randomBytes(8 * 4096), 0, 8 * 4096, Math.floor(statSync(db).size / 2 / 4096) * 4096);
  closeSync(fd);
}

function expectNamed(r: CliResult): void {
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`error: reading the state store ${db}: the database is damaged`);
  expect(r.stderr).toMatch(
    /\nhint: stop cairn, move the file aside and restore it from a backup; .*cairn audit verify/,
  );
  expect(r.stderr).not.toMatch(/\n\s+at |This is a bug|SqliteError/);
}

describe('a damaged state.db', () => {
  it('Given pages overwritten in the middle, when cairn up, then it is named at once and no stale api.json is left', () => {
    restore();
    overwriteMiddle();
    writeFileSync(
      join(dir, '.cairn/api.json'),
      JSON.stringify({ url: 'http://127.0.0.1:9', pid: 2 ** 22 + 1 }),
    );
    expectNamed(cairn(['up'], { cwd: dir, timeoutMs: 60_000 }));
    expect(existsSync(join(dir, '.cairn/api.json'))).toBe(false);
  });

  it('Given pages overwritten in the middle, when audit verify or audit log, then each names the file', () => {
    restore();
    overwriteMiddle();
    expectNamed(cairn(['audit', 'verify'], { cwd: dir }));
    expectNamed(cairn(['audit', 'log'], { cwd: dir }));
    const json = cairn(['audit', 'log', '--output', 'json'], { cwd: dir });
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'state_corrupt' } });
  });

  it('Given a file cut short, when ps, plan or up, then each names the file', () => {
    restore();
    truncateSync(db, Math.floor(statSync(db).size / 3));
    for (const args of [['ps'], ['plan'], ['up']]) expectNamed(cairn(args, { cwd: dir, timeoutMs: 60_000 }));
  });

  it('Given the first page overwritten (not a database any more), when ps, then it is named', () => {
    restore();
    const fd = openSync(db, 'r+');
    writeSync(fd, randomBytes(4096), 0, 4096, 0);
    closeSync(fd);
    expectNamed(cairn(['ps'], { cwd: dir }));
  });

  it('Given the file restored, then the same commands work again', () => {
    restore();
    const r = cairn(['audit', 'verify'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
