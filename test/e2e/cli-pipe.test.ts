import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromCommand } from '../../src/audit/index.js';
import { workspaceFor } from '../../src/state/index.js';
import { CAIRN_BIN, cairn, REPO_ROOT } from '../helpers/cli.js';

// `cairn audit log | head`: the reader of stdout goes away after one line. cairn must stop
// quietly — no EPIPE stack trace, exit 0 — as `cat` or `git log` do.
let dir: string;
const ENTRIES = 5_000;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-pipe-'));
  cpSync(join(REPO_ROOT, 'examples/hello'), dir, { recursive: true });
  expect(cairn(['init'], { cwd: dir }).code).toBe(0);
  const events = Array.from({ length: ENTRIES }, (_, i) => ({
    actor: 'test',
    action: 'image.sign',
    subject: { image: `sha256:${String(i).padStart(64, '0')}` },
  }));
  recordFromCommand(workspaceFor(join(dir, 'cairn.yaml'), {}), events);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `cairn ARGS | head -n 1` through a real shell pipe; returns cairn's exit code, its stderr and head's output. */
function pipeToHead(args: string[]): Promise<{ code: number | null; stderr: string; head: string }> {
  return new Promise((resolve) => {
    const quoted = [process.execPath, CAIRN_BIN, ...args].map((a) => `'${a}'`).join(' ');
    // PIPESTATUS[0] is cairn's own exit code; its stderr goes to fd 3 so head's output stays apart.
    const script = `${quoted} 2>&3 | head -n 1; echo "cairn-exit=\${PIPESTATUS[0]}"`;
    const child = spawn('bash', ['-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', () => {
      clearTimeout(timer);
      const code = /cairn-exit=(\d+)/.exec(out)?.[1];
      resolve({ code: code === undefined ? null : Number(code), stderr, head: out.split('\n')[0] ?? '' });
    });
  });
}

describe('a closed stdout pipe', () => {
  it(`Given ${ENTRIES} audit entries, when \`cairn audit log | head -n 1\`, then one line is shown and cairn exits 0 without a stack`, async () => {
    const r = await pipeToHead(['audit', 'log']);
    expect(r.head).toMatch(/^#0 /);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('Given JSON output, or `cairn schema`, then the same holds', async () => {
    for (const args of [['audit', 'log', '--output', 'json'], ['schema']]) {
      const r = await pipeToHead(args);
      expect(r.head.length).toBeGreaterThan(0);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  });
});
