import { describe, expect, it } from 'vitest';
import type { DriftReport } from './check.js';
import { expectedIdentity } from './identity.js';
import { allInSync, detectionEvent, MAX_AUDITED_REASONS, renderDrift } from './render.js';

const base = { service: 'hello', env: 'dev', release: 'rel-1', driver: 'runc', recorded: true };

describe('renderDrift', () => {
  it('says in sync, and exit 0 applies, only when every instance is', () => {
    const reports: DriftReport[] = [
      { ...base, instance: 'ins-1', verdict: { status: 'in-sync', notChecked: [] } },
    ];
    expect(allInSync(reports)).toBe(true);
    expect(renderDrift(reports)).toBe('ins-1  dev  hello  rel-1  in-sync\n1 instance(s) in sync\n');
  });

  it('names each changed path and foreign process, and what was not checked', () => {
    const reports: DriftReport[] = [
      {
        ...base,
        instance: 'ins-2',
        driver: 'bwrap',
        verdict: {
          status: 'drifted',
          notChecked: ['processes'],
          reasons: [
            { kind: 'file', path: '/app/server.js', change: 'content', expected: 'a', observed: 'b' },
            { kind: 'file', path: '/etc/x', change: 'added', observed: 'dir' },
            { kind: 'process', pid: 9, args: ['sh'], detail: 'pid 9 (sh) was not started by the image' },
          ],
        },
      },
      {
        ...base,
        instance: 'ins-3',
        verdict: { status: 'missing', detail: 'ins-3 should run and is exited' },
      },
    ];
    expect(allInSync(reports)).toBe(false);
    const text = renderDrift(reports);
    expect(text).toContain('  ~ /app/server.js: content a → b\n');
    expect(text).toContain('  + /etc/x: added (dir)\n');
    expect(text).toContain('  ! process pid 9 (sh) was not started by the image\n');
    expect(text).toContain('  not checked with the bwrap driver: processes\n');
    expect(text).toContain('  ins-3 should run and is exited\n');
    expect(text).toMatch(/2 of 2 instance\(s\) not in sync: drift found\n$/);
  });

  it('says there was nothing to check when nothing runs', () => {
    expect(allInSync([])).toBe(true);
    expect(renderDrift([])).toBe('no instances run: nothing to check\n');
  });
});

describe('expectedIdentity', () => {
  const record = {
    id: 'ins-1',
    releaseId: 'rel-1',
    service: 'hello',
    env: 'dev',
    driver: 'runc',
    state: 'healthy' as const,
    handle: {},
    createdAt: '',
    updatedAt: '',
  };

  it('reads the identity the instance manager recorded', () => {
    const identity = { imageDigest: 'sha256:a', filesDigest: 'sha256:b', entrypoint: ['node', 'server.js'] };
    expect(expectedIdentity({ ...record, identity })).toEqual({
      instance: 'ins-1',
      service: 'hello',
      env: 'dev',
      release: 'rel-1',
      ...identity,
    });
  });

  it('says why a record without an identity cannot be checked', () => {
    expect(expectedIdentity({ ...record, identity: { imageDigest: 'sha256:a' } })).toMatch(
      /ins-1 has no recorded identity/,
    );
  });
});

describe('detectionEvent', () => {
  it('names the instance and at most MAX_AUDITED_REASONS reasons, with their count', () => {
    const reasons = Array.from({ length: MAX_AUDITED_REASONS + 5 }, (_, i) => ({
      kind: 'file' as const,
      path: `/f${i}`,
      change: 'removed' as const,
      expected: 'file',
    }));
    const e = detectionEvent({
      ...base,
      instance: 'ins-3',
      verdict: { status: 'drifted', notChecked: [], reasons },
    });
    expect(e.action).toBe('drift.detected');
    expect(e.subject).toEqual({ instance: 'ins-3', service: 'hello', env: 'dev', release: 'rel-1' });
    expect(e.reason).toBe('55 difference(s)');
    expect(e.detail).toMatchObject({ status: 'drifted', reasonCount: 55 });
    expect((e.detail.reasons as unknown[]).length).toBe(MAX_AUDITED_REASONS);
  });

  it('gives the detail of an unknown container and leaves out what it does not know', () => {
    const e = detectionEvent({
      instance: 'by-hand',
      service: '',
      env: '',
      release: '',
      driver: 'runc',
      recorded: false,
      verdict: { status: 'unknown', detail: 'by-hand runs, but nobody recorded it' },
    });
    expect(e.subject).toEqual({ instance: 'by-hand' });
    expect(e.reason).toBe('by-hand runs, but nobody recorded it');
  });
});
