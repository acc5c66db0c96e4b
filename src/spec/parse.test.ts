import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toJsonSchema } from './json-schema.js';
import { parseSpec } from './parse.js';
import type { FileKind } from './rules.js';

const EXAMPLE = readFileSync(new URL('../../examples/hello/cairn.yaml', import.meta.url), 'utf8');
const exists = (kinds: Record<string, FileKind>) => (rel: string) => kinds[rel.replace(/^\.\//, '')];
const ALL_EXIST = exists({ app: 'dir', 'config/v1.json': 'file', 'keys/release.pub': 'file' });

const parse = (text: string) => parseSpec(text, 'cairn.yaml', ALL_EXIST);
const at = (text: string) => parse(text).diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`);

const MINIMAL = `project: p
services:
  web:
    build: { context: ./app, entrypoint: [node, server.js] }
    run: { port: 8080 }
environments:
  dev: { gateway: { listen: "127.0.0.1:9000" } }
`;

describe('parseSpec on valid input', () => {
  it('accepts the hello example and fills in defaults', () => {
    const { spec, diagnostics } = parse(EXAMPLE);
    expect(diagnostics).toEqual([]);
    const hello = spec!.services.hello!;
    expect(hello.build.user).toBe(65532);
    expect(hello.build.workdir).toBe('/app');
    expect(hello.run.health).toMatchObject({ path: '/healthz', intervalMs: 1000, unhealthyThreshold: 3 });
    expect(hello.deploy.steps).toEqual([{ weight: 20, pauseMs: 10_000 }, { analysis: {} }, { weight: 100 }]);
    expect(hello.deploy.analysis).toMatchObject({
      maxErrorRate: 0.01,
      maxP99Ms: 500,
      minRequests: 200,
      inconclusive: 'hold',
    });
    expect(spec!.environments.prod).toMatchObject({ after: 'dev', approval: true, driver: 'auto' });
    expect(spec!.routes).toEqual([{ host: '*', path: '/', service: 'hello' }]);
  });

  it('gives a canary service without steps the default steps', () => {
    const { spec } = parse(
      `${MINIMAL.replace('run: { port: 8080 }', 'run: { port: 8080 }\n    deploy: { strategy: canary }')}`,
    );
    expect(spec!.services.web!.deploy.steps.at(-1)).toEqual({ weight: 100 });
  });

  it('reads durations written as text or milliseconds', () => {
    const { spec } = parse(
      MINIMAL.replace(
        'run: { port: 8080 }',
        'run: { port: 8080, stopGraceMs: 1m30s, health: { timeoutMs: 250 } }',
      ),
    );
    expect(spec!.services.web!.run.stopGraceMs).toBe(90_000);
    expect(spec!.services.web!.run.health.timeoutMs).toBe(250);
  });
});

describe('environments.<env>.drift', () => {
  it('defaults to enforce, a 60 s full check and the fast path', () => {
    expect(parse(MINIMAL).spec!.environments.dev!.drift).toEqual({
      mode: 'enforce',
      intervalMs: 60_000,
      fastPath: true,
    });
  });

  it('reads a mode, an interval written as a duration, and the fast path turned off', () => {
    const { spec, diagnostics } = parse(
      MINIMAL.replace('dev: {', 'dev: { drift: { mode: warn, intervalMs: 5s, fastPath: false },'),
    );
    expect(diagnostics).toEqual([]);
    expect(spec!.environments.dev!.drift).toEqual({ mode: 'warn', intervalMs: 5000, fastPath: false });
  });

  it('is in the JSON Schema editors read', () => {
    const env = (toJsonSchema() as { properties: { environments: { additionalProperties: unknown } } })
      .properties.environments.additionalProperties as { properties: Record<string, unknown> };
    expect(env.properties.drift).toMatchObject({
      additionalProperties: false,
      properties: { mode: { enum: ['enforce', 'warn'], default: 'enforce' }, fastPath: { type: 'boolean' } },
    });
  });

  it('names an unknown key, an unknown mode and a too short interval', () => {
    expect(
      at(MINIMAL.replace('dev: {', 'dev: { drift: { mode: enforse, intervalMs: 10, fastpath: false },')),
    ).toEqual([
      '7:25 environments.dev.drift.mode: "enforse" is not one of enforce, warn (did you mean "enforce"?)',
      '7:46 environments.dev.drift.intervalMs: 10 is below the minimum 100ms',
      '7:50 environments.dev.drift: unknown key "fastpath" (did you mean "fastPath"?)',
    ]);
  });
});

describe('parseSpec diagnostics', () => {
  it('reports five different mistakes at once, each at its line and column', () => {
    const text = `project: shop
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
    expect(at(text)).toEqual([
      '7:7 services.api.build: unknown key "inclde" (did you mean "include"?)',
      '9:13 services.api.run.port: 70000 is above the maximum 65535',
      '10:29 services.api.run.health.intervalMs: "soon" is not a duration: write milliseconds or a value like 10s, 5m',
      '11:25 services.api.deploy.strategy: "canery" is not one of bluegreen, canary, rolling (did you mean "canary"?)',
      '15:16 route to unknown service "ap" (did you mean "api"?)',
    ]);
    expect(parse(text).spec).toBeUndefined();
  });

  it('locates YAML syntax errors', () => {
    const [d] = parse('project: p\nservices:\n  web: [unclosed\nenvironments: {}\n').diagnostics;
    expect(d).toMatchObject({ severity: 'error', file: 'cairn.yaml' });
    expect(d!.message).toMatch(/^YAML syntax/);
    expect(d!.line).toBeGreaterThanOrEqual(3);
  });

  it('reports a duplicate key where it is repeated', () => {
    expect(at('project: a\nproject: b\nservices: {}\nenvironments: {}\n')[0]).toMatch(
      /^2:1 YAML syntax: Map keys must be unique/,
    );
  });

  it('names missing required keys and wrong types', () => {
    const out = at(`project: p
services:
  web:
    build: { entrypoint: node }
    run: { port: "8080" }
environments: {}
`);
    expect(out).toEqual([
      '4:12 services.web.build: missing required key "context"',
      '4:26 services.web.build.entrypoint: expected a list, got the string "node"',
      '5:18 services.web.run.port: expected a number, got the string "8080"',
    ]);
  });

  it('finds an unknown predecessor environment and a cycle of after:', () => {
    const out = at(`${MINIMAL}  staging: { after: dve, gateway: { listen: "127.0.0.1:9001" } }
  a: { after: b, gateway: { listen: "127.0.0.1:9002" } }
  b: { after: a, gateway: { listen: "127.0.0.1:9003" } }
`);
    expect(out).toEqual([
      '8:21 after: unknown environment "dve" (did you mean "dev"?)',
      '9:15 environments form a cycle through after: a → b → a',
    ]);
  });

  it('refuses a secret written inline without printing its value', () => {
    const text = MINIMAL.replace(
      'run: { port: 8080 }',
      'run: { port: 8080, secrets: ["DB_PASSWORD=hunter2"] }',
    ).replace(
      'entrypoint: [node, server.js]',
      'entrypoint: [node, server.js], env: { API_TOKEN: s3cr3t-value }',
    );
    const { diagnostics } = parse(text);
    expect(diagnostics.map((d) => d.path)).toEqual([
      'services.web.build.env.API_TOKEN',
      'services.web.run.secrets.0',
    ]);
    for (const d of diagnostics) {
      expect(d.message).not.toContain('hunter2');
      expect(d.message).not.toContain('s3cr3t');
    }
  });

  it('reads run.secrets as names or as {name, env, file}, and refuses a variable or file given twice', () => {
    const ok = parse(
      MINIMAL.replace(
        'run: { port: 8080 }',
        'run: { port: 8080, secrets: [API_TOKEN, { name: DB, env: PGPASSWORD, file: db.pw }] }',
      ),
    );
    expect(ok.diagnostics).toEqual([]);
    expect(ok.spec?.services.web?.run.secrets).toEqual([
      { name: 'API_TOKEN' },
      { name: 'DB', env: 'PGPASSWORD', file: 'db.pw' },
    ]);
    const bad = at(
      MINIMAL.replace(
        'run: { port: 8080 }',
        'run: { port: 8080, secrets: [A, { name: B, file: A }, { name: C, env: PORT }, { name: D, file: ../x }] }',
      ),
    );
    expect(bad.map((l) => l.replace(/^\d+:\d+ /, ''))).toEqual([
      expect.stringContaining('file A is already given a secret by run.secrets[0]'),
      expect.stringContaining('PORT is set by cairn'),
      expect.stringContaining('"../x" is not a file name'),
    ]);
  });

  it('checks run.network: egress on this host only, allow naming other services', () => {
    const bad = at(
      MINIMAL.replace(
        'run: { port: 8080 }',
        'run: { port: 8080, network: { egress: ["10.0.0.5:5432", "127.0.0.1:40001"], allow: [web, wbe] } }',
      ),
    );
    expect(bad.map((l) => l.replace(/^\d+:\d+ /, ''))).toEqual([
      expect.stringContaining('"10.0.0.5:5432" is not on this host'),
      expect.stringContaining('port 40001 is one cairn uses for run.network.allow'),
      expect.stringContaining('web reaches its own instances on its loopback'),
      expect.stringContaining('there is no service "wbe" (did you mean "web"?)'),
    ]);
  });

  it('checks globs, listeners, paths and files that must exist', () => {
    const out = at(`project: p
services:
  web:
    build: { context: ./nope, entrypoint: [x], include: ["src/[a-"], files: { etc/x: ./missing.json } }
    run: { port: 1, tmpfs: [/] }
environments:
  dev: { gateway: { listen: "localhost:99999" } }
  qa: { gateway: { listen: "127.0.0.1:1" } }
  qb: { gateway: { listen: "127.0.0.1:1" } }
`);
    expect(out.map((l) => l.replace(/ .*/, ''))).toEqual(['4:23', '4:58', '4:79', '5:29', '7:29', '9:28']);
    expect(out.join('\n')).toMatch(/not a folder next to cairn.yaml/);
    expect(out.join('\n')).toMatch(/not a valid glob/);
    expect(out.join('\n')).toMatch(/already the gateway of environment qa/);
  });

  it('checks canary steps', () => {
    const out = at(
      MINIMAL.replace(
        'run: { port: 8080 }',
        'run: { port: 8080 }\n    deploy: { strategy: canary, steps: [{ weight: 50 }, { weight: 20, analysis: {} }, { pauseMs: 5s }] }',
      ),
    );
    expect(out).toEqual([
      '6:57 a step is exactly one of weight, pause or analysis, this one has weight and analysis',
      '6:67 weight 20 is lower than the step before (50)',
      '6:87 a step is exactly one of weight, pause or analysis, this one has none',
      '6:87 pauseMs goes with a weight; use pause: {durationMs} on its own',
    ]);
  });

  it('reports an empty file', () => {
    expect(at('')).toEqual(['1:1 cairn.yaml is empty: it needs at least project, services and environments']);
  });
});

describe('release gates in the spec', () => {
  const GATED = `${MINIMAL.replace(
    'dev: { gateway: { listen: "127.0.0.1:9000" } }',
    'dev: { gateway: { listen: "127.0.0.1:9000" }, maxSeverity: high }',
  )}vuln:
  ignore:
    - { id: GHSA-aaaa-bbbb-cccc, reason: "not reachable from the API", expires: 2027-01-31 }
`;

  it('reads maxSeverity and accepted findings', () => {
    const { spec, diagnostics } = parse(GATED);
    expect(diagnostics).toEqual([]);
    expect(spec!.environments.dev!.maxSeverity).toBe('high');
    expect(spec!.vuln!.ignore).toEqual([
      { id: 'GHSA-aaaa-bbbb-cccc', reason: 'not reachable from the API', expires: '2027-01-31' },
    ]);
  });

  it('refuses an unknown severity, a bad expiry, an unknown service and a signature with no key', () => {
    const out = at(
      GATED.replace('maxSeverity: high', 'maxSeverity: severe, requireSignature: true').replace(
        'expires: 2027-01-31',
        'expires: next week, services: [wbe]',
      ),
    );
    expect(out.join('\n')).toMatch(/maxSeverity.*severe/);
    expect(out.join('\n')).toMatch(/"next week" is not a date/);
    expect(out.join('\n')).toMatch(/unknown service "wbe" \(did you mean "web"\?\)/);
    expect(out.join('\n')).toMatch(/requires a signature but trusts no key/);
  });
});
