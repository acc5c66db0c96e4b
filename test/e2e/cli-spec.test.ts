import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cairn, REPO_ROOT } from '../helpers/cli.js';

const FIVE_MISTAKES = `project: shop
services:
  api:
    build:
      context: ./app
      entrypoint: [node, server.js]
      inclde: ["**/*.js"]
    run:
      port: 70000
      health: { intervalMs: soon }
    deploy: { strategy: canery }
environments:
  dev: { gateway: { listen: "127.0.0.1:8080" } }
routes:
  - { service: ap }
`;

describe('cairn validate, init and plan, as a user runs them', () => {
  let work: string;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'cairn-cli-'));
    cpSync(join(REPO_ROOT, 'examples/hello'), work, { recursive: true });
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('Given the hello example, validate exits 0', () => {
    const r = cairn(['validate', '-f', 'examples/hello/cairn.yaml']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('valid (1 service(s), 2 environment(s))');
    expect(r.code).toBe(0);
  });

  it('Given a spec with five mistakes, validate lists all five with locations and exits 1, without a stack trace', () => {
    writeFileSync(join(work, 'bad.yaml'), FIVE_MISTAKES);
    const text = cairn(['validate', '-f', 'bad.yaml'], { cwd: work });
    expect(text.code).toBe(1);
    expect(text.stderr.split('\n').filter((l) => /^bad\.yaml:\d+:\d+: error:/.test(l))).toHaveLength(5);
    expect(text.stderr).toContain(
      'bad.yaml:9:13: error: services.api.run.port: 70000 is above the maximum 65535',
    );
    expect(text.stderr).not.toMatch(/\n\s+at /);

    const json = cairn(['validate', '-f', 'bad.yaml', '--output', 'json'], { cwd: work });
    expect(json.code).toBe(1);
    const body = JSON.parse(json.stdout) as { valid: boolean; diagnostics: Array<Record<string, unknown>> };
    expect(body.valid).toBe(false);
    expect(body.diagnostics.map((d) => `${d.line}:${d.column}`)).toEqual([
      '7:7',
      '9:13',
      '10:29',
      '11:25',
      '15:16',
    ]);
    expect(Object.keys(body.diagnostics[0]!).sort()).toEqual([
      'column',
      'file',
      'line',
      'message',
      'severity',
    ]);
  });

  it('When the spec is missing, the error names the file and gives a hint', () => {
    const r = cairn(['validate', '-f', 'nope.yaml'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: reading nope.yaml: ENOENT\nhint: /);
  });

  it('init creates the workspace with a private token and refuses to run twice', () => {
    const first = cairn(['init'], { cwd: work });
    expect(first.code).toBe(0);
    const token = join(work, '.cairn', 'api-token');
    expect(statSync(token).mode & 0o777).toBe(0o600);
    const before = readFileSync(token, 'utf8');
    expect(first.stdout).not.toContain(before.trim());
    const second = cairn(['init'], { cwd: work });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/a workspace already exists/);
    expect(readFileSync(token, 'utf8')).toBe(before);
  });

  it('plan shows creations, and --detailed-exitcode exits 2 when there are changes', () => {
    cairn(['init'], { cwd: work });
    const r = cairn(['plan', '--env', 'dev', '--detailed-exitcode'], { cwd: work });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('+   hello (dev) will be created: 2 instance(s), strategy canary');
    expect(r.stdout).toContain('Plan: 1 to create, 0 to replace, 0 to destroy.');
    const json = JSON.parse(cairn(['plan', '-o', 'json'], { cwd: work }).stdout) as {
      summary: Record<string, number>;
    };
    expect(json.summary).toEqual({ create: 2, replace: 0, destroy: 0, scale: 0 });
    const unknown = cairn(['plan', '--env', 'qa'], { cwd: work });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no such environment \(it has dev, prod\)/);
  });

  it('every command answers --help, and a typo gets a suggestion', () => {
    const overview = cairn(['--help']);
    expect(overview.code).toBe(0);
    const verbs = [...overview.stdout.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]!);
    expect(verbs).toEqual(expect.arrayContaining(['init', 'plan', 'schema', 'validate']));
    for (const verb of verbs) {
      const help = cairn([verb, '--help']);
      expect(help.code, verb).toBe(0);
      expect(help.stdout, verb).toMatch(/Usage: cairn /);
    }
    const typo = cairn(['valdiate']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('did you mean `cairn validate`?');
  });

  it('doctor names the driver cairn up will use, and ps lists nothing before anything runs', () => {
    const doctor = cairn(['doctor', '--output', 'json']);
    expect(doctor.code).toBe(0);
    const report = JSON.parse(doctor.stdout) as {
      chosen: string;
      drivers: Array<{ kind: string; usable: boolean }>;
    };
    expect(report.drivers.map((d) => d.kind)).toEqual(['runc', 'bwrap', 'process']);
    expect(report.drivers.find((d) => d.kind === report.chosen)?.usable).toBe(true);
    expect(cairn(['doctor']).stdout).toContain(`cairn up will use the ${report.chosen} driver`);
    expect(cairn(['ps'], { cwd: work }).stdout).toBe('no workspace yet: nothing runs (`cairn init`)\n');
    cairn(['init'], { cwd: work });
    expect(JSON.parse(cairn(['ps', '-o', 'json'], { cwd: work }).stdout)).toEqual({ instances: [] });
  });

  it('schema prints a JSON Schema that names every top-level key', () => {
    const schema = JSON.parse(cairn(['schema']).stdout) as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(schema.properties)).toEqual([
      'project',
      'services',
      'environments',
      'routes',
      'identity',
      'vuln',
    ]);
    expect(schema.required).toEqual(['project', 'services', 'environments']);
  });
});
