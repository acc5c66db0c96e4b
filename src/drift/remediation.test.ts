import { describe, expect, it } from 'vitest';
import type { DriftReport } from './check.js';
import { bundleAltered, planRemediation } from './remediation.js';
import type { DriftVerdict } from './types.js';

const NOW = 1_000_000;
const fileDrift: DriftVerdict = {
  status: 'drifted',
  notChecked: [],
  reasons: [{ kind: 'file', path: '/app/server.js', change: 'content', expected: 'a', observed: 'b' }],
};
const processDrift: DriftVerdict = {
  status: 'drifted',
  notChecked: [],
  reasons: [{ kind: 'process', pid: 7, args: ['sh'], detail: 'pid 7 (sh)' }],
};

function report(instance: string, verdict: DriftVerdict, over: Partial<DriftReport> = {}): DriftReport {
  return {
    instance,
    service: 'hello',
    env: 'dev',
    release: 'rel-1',
    driver: 'runc',
    recorded: true,
    traffic: 'in',
    verdict,
    ...over,
  };
}

describe('planRemediation', () => {
  it('replaces a drifted instance in enforce mode, rebuilding the bundle only when files differ', () => {
    const actions = planRemediation(
      [report('ins-1', fileDrift), report('ins-2', processDrift, { service: 'api' })],
      [],
      { mode: 'enforce' },
      NOW,
    );
    expect(actions).toEqual([
      { kind: 'replace', instance: 'ins-1', service: 'hello', env: 'dev', rebuildBundle: true },
      { kind: 'replace', instance: 'ins-2', service: 'api', env: 'dev', rebuildBundle: false },
    ]);
  });

  it('only reports in warn mode, and does nothing for in-sync or missing instances', () => {
    const actions = planRemediation(
      [
        report('ins-1', fileDrift),
        report('ins-2', { status: 'in-sync', notChecked: [] }),
        report('ins-3', { status: 'missing', detail: 'gone' }),
        report('box', { status: 'unknown', detail: 'by hand' }, { recorded: false }),
      ],
      [],
      { mode: 'warn' },
      NOW,
    );
    expect(actions).toEqual([
      { kind: 'report', instance: 'ins-1' },
      { kind: 'report', instance: 'box' },
    ]);
  });

  it('stops a container cairn has no record of in enforce mode, but never one it merely failed to observe', () => {
    const actions = planRemediation(
      [
        report('box', { status: 'unknown', detail: 'by hand' }, { recorded: false }),
        report('ins-1', { status: 'unknown', detail: 'runc ps failed' }),
      ],
      [],
      { mode: 'enforce' },
      NOW,
    );
    expect(actions).toEqual([
      { kind: 'stop-unknown', instance: 'box' },
      { kind: 'report', instance: 'ins-1' },
    ]);
  });

  it('rebuilds the bundle for a file or bundle identity difference, not for a runtime config or secret one', () => {
    const configDrift: DriftVerdict = {
      status: 'drifted',
      notChecked: [],
      reasons: [
        {
          kind: 'config',
          field: 'process.env.PORT',
          path: 'config.json process.env.PORT',
          change: 'changed',
        },
        { kind: 'secret', name: 'API_TOKEN', path: 'secret API_TOKEN', change: 'changed' },
      ],
    };
    const identityDrift: DriftVerdict = {
      status: 'drifted',
      notChecked: [],
      reasons: [{ kind: 'identity', field: 'bundleRoot', expected: 'sha256:a', observed: 'sha256:b' }],
    };
    expect(bundleAltered(report('ins-1', configDrift))).toBe(false);
    expect(bundleAltered(report('ins-1', identityDrift))).toBe(true);
    expect(bundleAltered(report('ins-1', fileDrift))).toBe(true);
  });

  it('replaces every instance on an altered shared bundle in one pass: one replacement event', () => {
    const actions = planRemediation(
      [report('ins-1', fileDrift), report('ins-2', fileDrift), report('ins-3', processDrift)],
      [],
      { mode: 'enforce', minReplaceIntervalMs: 10_000 },
      NOW,
    );
    expect(actions.map((a) => a.kind)).toEqual(['replace', 'replace', 'defer']);
    expect(actions[1]).toMatchObject({ instance: 'ins-2', rebuildBundle: true });
  });

  it('defers a second replacement of the same service until the minimum interval has passed', () => {
    const actions = planRemediation(
      [report('ins-1', processDrift), report('ins-2', processDrift)],
      [],
      { mode: 'enforce', minReplaceIntervalMs: 10_000 },
      NOW,
    );
    expect(actions[1]).toEqual({ kind: 'defer', instance: 'ins-2', untilMs: NOW + 10_000 });
    const later = planRemediation(
      [report('ins-2', processDrift)],
      [{ service: 'hello', env: 'dev', atMs: NOW }],
      {
        mode: 'enforce',
        minReplaceIntervalMs: 10_000,
      },
      NOW + 10_000,
    );
    expect(later[0]?.kind).toBe('replace');
  });

  it('quarantines a service whose replacements keep drifting within the window, not after it', () => {
    const past = [1, 2, 3].map((i) => ({ service: 'hello', env: 'dev', atMs: NOW - i * 60_000 }));
    const policy = { mode: 'enforce' as const, quarantineAfter: 3, quarantineWindowMs: 600_000 };
    expect(planRemediation([report('ins-9', processDrift)], past, policy, NOW)).toEqual([
      { kind: 'quarantine', instance: 'ins-9', service: 'hello', env: 'dev', replacements: 3 },
    ]);
    expect(planRemediation([report('ins-9', processDrift)], past, policy, NOW + 600_000)[0]?.kind).toBe(
      'replace',
    );
    const otherEnv = past.map((p) => ({ ...p, env: 'prod' }));
    expect(planRemediation([report('ins-9', processDrift)], otherEnv, policy, NOW)[0]?.kind).toBe('replace');
  });
});
