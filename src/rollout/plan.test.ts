import { describe, expect, it } from 'vitest';
import { type CurrentService, type DesiredService, planChanges } from './plan.js';
import { renderPlan } from './plan-render.js';

const config = (port = 8080, replicas = 2) => ({ build: { context: './app' }, run: { port, replicas } });
const desired = (over: Partial<DesiredService> = {}): DesiredService => ({
  env: 'dev',
  service: 'hello',
  config: config(),
  sourceDigest: 'sha256:src1',
  replicas: 2,
  strategy: 'canary',
  ...over,
});
const current = (over: Partial<CurrentService> = {}): CurrentService => ({
  env: 'dev',
  service: 'hello',
  releaseId: 'rel-aaaaaaaaaaaa',
  imageDigest: 'sha256:img1',
  config: config(),
  sourceDigest: 'sha256:src1',
  instances: 2,
  ...over,
});

describe('planChanges', () => {
  it('creates what does not run yet', () => {
    const plan = planChanges([], [desired()]);
    expect(plan.items).toMatchObject([{ action: 'create', instancesAfter: 2 }]);
    expect(renderPlan(plan)).toContain('Plan: 1 to create, 0 to replace, 0 to destroy.');
  });

  it("shows a new service's own variables in this environment", () => {
    const withVars = {
      ...config(),
      run: { ...config().run, env: { UPSTREAM_URL: 'https://api.example.com' } },
    };
    const plan = planChanges([], [desired({ config: withVars })]);
    expect(plan.items[0]!.changes).toEqual([
      { path: 'run.env.UPSTREAM_URL', after: 'https://api.example.com' },
    ]);
    expect(renderPlan(plan)).toContain('run.env.UPSTREAM_URL: (none) → https://api.example.com');
  });

  it('replaces for a changed configuration file, shown by short digests and never its content', () => {
    const [a, b] = [`sha256:${'a'.repeat(64)}`, `sha256:${'b'.repeat(64)}`];
    const withFile = (digest: string) => ({
      ...config(),
      run: { ...config().run, files: { '/etc/app/config.json': digest } },
    });
    const plan = planChanges([current({ config: withFile(a) })], [desired({ config: withFile(b) })]);
    expect(plan.items.map((i) => i.action)).toEqual(['replace']);
    expect(plan.items[0]!.changes).toEqual([{ path: 'run.files./etc/app/config.json', before: a, after: b }]);
    expect(renderPlan(plan)).toContain(
      'run.files./etc/app/config.json: sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb\n',
    );
    expect(renderPlan(planChanges([], [desired({ config: withFile(a) })]))).toContain(
      'run.files./etc/app/config.json: (none) → sha256:aaaaaaaaaaaa',
    );
  });

  it('reports no changes when what runs matches', () => {
    const plan = planChanges([current()], [desired()]);
    expect(plan.items).toEqual([]);
    expect(renderPlan(plan)).toMatch(/^No changes/);
  });

  it('replaces, never updates, when a run setting changes — and names the field', () => {
    const plan = planChanges([current()], [desired({ config: config(9090) })]);
    expect(plan.items).toMatchObject([
      { action: 'replace', changes: [{ path: 'run.port', before: 8080, after: 9090 }] },
    ]);
    expect(renderPlan(plan)).toMatch(/-\/\+ hello \(dev\) must be replaced/);
    expect(renderPlan(plan)).not.toContain('~');
  });

  it('replaces when the build inputs change, and says the image is unknown before a build', () => {
    expect(planChanges([current()], [desired({ sourceDigest: 'sha256:src2' })]).items[0]).toMatchObject({
      action: 'replace',
      changes: [{ path: 'build.sources' }],
    });
    expect(planChanges([current()], [desired({ sourceDigest: undefined })]).items[0]!.changes).toEqual([
      { path: 'image', before: 'sha256:img1', after: '(known after build)' },
    ]);
  });

  it('shows no change when the build inputs are the same, and cannot compare with a release that has none', () => {
    expect(planChanges([current()], [desired()]).items).toEqual([]);
    const pulled = { ...current(), sourceDigest: undefined };
    expect(planChanges([pulled], [desired()]).items[0]!.changes).toEqual([
      { path: 'image', before: 'sha256:img1', after: '(unknown: the release records no build inputs)' },
    ]);
  });

  it('scales without a new release when only replicas change', () => {
    const plan = planChanges([current()], [desired({ replicas: 3, config: config(8080, 3) })]);
    expect(plan.items).toMatchObject([{ action: 'scale', instancesBefore: 2, instancesAfter: 3 }]);
  });

  it('destroys what runs but is no longer in the spec', () => {
    const plan = planChanges([current({ service: 'old' })], [desired()]);
    expect(plan.items.map((i) => `${i.action} ${i.service}`)).toEqual(['create hello', 'destroy old']);
    expect(renderPlan(plan)).toContain('Plan: 1 to create, 0 to replace, 1 to destroy.');
  });
});
