/**
 * Runbook: a build meets the policies that name the `build` stage before it gets its name. With a
 * policy forbidding a baked DEBUG variable, a build that bakes one exits 3 naming the rule, the
 * image is not tagged — `hello:latest` still names the last good build — and the refusal is in the
 * audit log; a policy written for releases (no stages) does not stop a build from a dirty tree.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const POLICIES = `policies:
  - name: no-debug
    match: { stages: [build] }
    validations:
      - expression: '!image.config.env.exists(e, e.startsWith("DEBUG="))'
        message: images must not bake DEBUG
        reason: Forbidden
  - name: clean-tree
    validations:
      - expression: '!provenance.dirty'
        message: releases come from a clean tree
`;

interface ImageRow {
  ref: string;
  digest: string;
}

describe('build-stage policies', () => {
  let ws: HelloWorkspace;
  const latest = async () =>
    (
      (JSON.parse((await ws.runAsync(['images', '-o', 'json'])).stdout) as { images: ImageRow[] }).images ??
      []
    ).find((i) => i.ref === 'hello:latest')?.digest;

  beforeAll(async () => {
    ws = new HelloWorkspace(
      helloSpec(await freePort(), '{ strategy: bluegreen }').replace(
        'dev: { gateway',
        'dev: { policies: [policies/build.yaml], gateway',
      ),
    );
    mkdirSync(join(ws.dir, 'policies'), { recursive: true });
    writeFileSync(join(ws.dir, 'policies', 'build.yaml'), POLICIES);
    expect((await ws.runAsync(['init'])).code).toBe(0);
  });
  afterAll(() => ws?.cleanup());

  it('Given a build that meets them (from a dirty tree), Then it is tagged and says which passed', async () => {
    const r = await ws.runAsync(['build', 'hello']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/hello:latest/);
    expect(r.stdout).toContain('build policies passed: no-debug');
    expect(await latest()).toMatch(/^sha256:/);
  });

  it('When the image bakes DEBUG, Then the build exits 3 naming the rule, the tag stays on the last good build, and the refusal is audited', async () => {
    const good = await latest();
    ws.edit('files: { /etc/hello/config.json', 'env: { DEBUG: "1" }\n      files: { /etc/hello/config.json');
    const r = await ws.runAsync(['build', 'hello']);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('(not tagged: refused by build policies)');
    expect(r.stderr).toMatch(
      /error: building hello \([0-9a-f]{12}\), so it is not tagged: 1 gate rule\(s\) failed/,
    );
    expect(r.stderr).toContain('policy no-debug[0]: images must not bake DEBUG (Forbidden)');
    expect(r.stderr).not.toContain('clean-tree');
    expect(await latest()).toBe(good);
    const audit = JSON.parse((await ws.runAsync(['audit', 'log', '-o', 'json'])).stdout) as Array<{
      action: string;
      detail?: { stage?: string };
      subject: { service?: string };
    }>;
    const denied = (Array.isArray(audit) ? audit : (audit as { entries: typeof audit }).entries).filter(
      (e) => e.action === 'gate.denied',
    );
    expect(denied).toEqual([
      expect.objectContaining({
        subject: expect.objectContaining({ service: 'hello' }),
        detail: expect.objectContaining({ stage: 'build' }),
      }),
    ]);
  });
});
