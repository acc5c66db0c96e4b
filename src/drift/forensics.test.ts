import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DriftReport } from './check.js';
import { keepForensics, MAX_COPIED_FILE_BYTES } from './forensics.js';

const change = (path: string, kind: 'content' | 'added' | 'removed') => ({
  kind: 'file' as const,
  path,
  change: kind,
  expected: 'sha256:a',
  observed: 'sha256:b',
});

describe('keepForensics', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-forensics-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the report and copies of small changed and added files, never following symlinks or copying big files', async () => {
    const rootfs = join(dir, 'rootfs');
    const outside = join(dir, 'outside');
    mkdirSync(join(rootfs, 'app'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'host-secret'), 'do not copy');
    writeFileSync(join(rootfs, 'app/server.js'), 'tampered');
    writeFileSync(join(rootfs, 'app/.backdoor'), 'payload');
    writeFileSync(join(rootfs, 'app/big.bin'), Buffer.alloc(MAX_COPIED_FILE_BYTES + 1));
    symlinkSync(join(outside, 'host-secret'), join(rootfs, 'app/link'));
    symlinkSync(outside, join(rootfs, 'escape'));
    const report: DriftReport = {
      instance: 'ins-1',
      service: 'hello',
      env: 'dev',
      release: 'rel-1',
      driver: 'runc',
      recorded: true,
      traffic: 'in',
      verdict: {
        status: 'drifted',
        notChecked: [],
        reasons: [
          change('/app/server.js', 'content'),
          change('/app/.backdoor', 'added'),
          change('/app/big.bin', 'content'),
          change('/app/link', 'added'),
          change('/escape/host-secret', 'added'),
          change('/etc/passwd', 'removed'),
        ],
      },
    };
    const out = await keepForensics(join(dir, 'forensics'), report, rootfs, '2026-11-26T09:40:00.000Z');
    expect(out).toBe(join(dir, 'forensics', 'ins-1-2026-11-26T094000000Z'));
    const kept = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(kept.copied).toEqual(['/app/server.js', '/app/.backdoor']);
    expect(kept.report.verdict.reasons).toHaveLength(6);
    expect(readFileSync(join(out, 'files/app/server.js'), 'utf8')).toBe('tampered');
    expect(statSync(join(out, 'report.json')).mode & 0o777).toBe(0o600);
    expect(statSync(out).mode & 0o777).toBe(0o700);
  });
});
