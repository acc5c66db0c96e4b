import { describe, expect, it } from 'vitest';
import type { DriftReport } from './check.js';
import { expectedIdentity } from './identity.js';
import { allInSync, detectionEvent, MAX_AUDITED_REASONS, renderDrift } from './render.js';

const base = {
  service: 'hello',
  env: 'dev',
  release: 'rel-1',
  driver: 'runc',
  recorded: true,
  traffic: 'in' as const,
};

describe('renderDrift', () => {
  it('shows an instance being replaced as out of traffic with its cause, and exit 0 once those in traffic are in sync', () => {
    const drifted = {
      status: 'drifted' as const,
      notChecked: [],
      reasons: [
        {
          kind: 'file' as const,
          path: '/app/server.js',
          change: 'content' as const,
          expected: 'a',
          observed: 'b',
        },
      ],
    };
    const reports: DriftReport[] = [
      { ...base, instance: 'ins-new', verdict: { status: 'in-sync', notChecked: [] } },
      {
        ...base,
        instance: 'ins-old',
        traffic: 'out',
        state: 'draining',
        since: '2026-12-06T10:00:00.000Z',
        stateReason: 'drift: drifted (1 difference(s): files); replaced by ins-new',
        verdict: drifted,
      },
      {
        ...base,
        instance: 'ins-q',
        traffic: 'out',
        state: 'quarantined',
        since: '2026-12-06T09:00:00.000Z',
        verdict: drifted,
      },
    ];
    expect(allInSync(reports)).toBe(true);
    const text = renderDrift(reports);
    expect(text).toContain(
      'ins-old  dev  hello  rel-1  drifted  (being replaced: out of traffic, draining since 2026-12-06T10:00:00.000Z, stopped once its requests finish)\n  cause: drift: drifted (1 difference(s): files); replaced by ins-new\n',
    );
    expect(text).toContain(
      'ins-q  dev  hello  rel-1  drifted  (quarantined since 2026-12-06T09:00:00.000Z: out of traffic, kept running for inspection (`cairn drift --clear ins-q` stops it))',
    );
    expect(text).toMatch(
      /1 instance\(s\) in traffic, all in sync; 2 out of traffic \(being replaced or quarantined\)\n$/,
    );
    expect(allInSync([...reports, { ...base, instance: 'ins-x', verdict: drifted }])).toBe(false);
  });

  it('says in sync, and exit 0 applies, only when every instance is', () => {
    const reports: DriftReport[] = [
      { ...base, instance: 'ins-1', verdict: { status: 'in-sync', notChecked: [] } },
    ];
    expect(allInSync(reports)).toBe(true);
    expect(renderDrift(reports)).toBe(
      'ins-1  dev  hello  rel-1  in-sync\n1 instance(s) in traffic, all in sync\n',
    );
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
    expect(text).toMatch(/2 of 2 instance\(s\) in traffic not in sync: drift found\n$/);
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
    expect(e.reason).toBe('55 difference(s), first /f0 removed');
    expect(e.detail).toMatchObject({ status: 'drifted', reasonCount: 55 });
    expect((e.detail.reasons as unknown[]).length).toBe(MAX_AUDITED_REASONS);
  });

  it('gives the detail of an unknown container and leaves out what it does not know', () => {
    const e = detectionEvent({
      instance: 'by-hand',
      traffic: 'in',
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
