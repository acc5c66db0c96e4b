import { describe, expect, it } from 'vitest';
import { compilePolicyFile } from './compile.js';
import { COST_LIMIT, costOf } from './cost.js';
import { evaluatePolicies, policyMatches } from './evaluate.js';
import type { PolicyInput } from './input.js';

const input = (over: Partial<PolicyInput> = {}): PolicyInput => ({
  service: 'hello',
  environment: 'prod',
  stage: 'deploy',
  actor: 'alice',
  image: {
    digest: `sha256:${'a'.repeat(64)}`,
    created: '2026-01-01T00:00:00Z',
    config: {
      user: '1000:1000',
      entrypoint: ['node'],
      cmd: [],
      env: [],
      workingDir: '/app',
      labels: {},
      exposedPorts: [],
    },
  },
  release: { id: 'r1', run: { port: 8080, readOnly: true } },
  sbom: {
    present: true,
    components: [{ name: 'left-pad', version: '1.3.0', purl: 'pkg:npm/left-pad@1.3.0', type: 'library' }],
  },
  provenance: {
    present: true,
    builder: 'https://cairn.dev/builder',
    buildType: 'x',
    sourceCommit: 'abc',
    dirty: false,
  },
  signatures: [{ keyId: 'k1', trusted: true }],
  scan: { present: false, dbAsOf: '', maxSeverity: 'none', findings: [] },
  ...over,
});

const POLICIES = `policies:
  - name: non-root
    validations:
      - expression: '!image.config.user.startsWith("0")'
        message: the image must not run as root
        reason: Forbidden
  - name: clean-tree
    match: { environments: [prod], stages: [deploy, promote] }
    variables:
      - name: clean
        expression: provenance.present && !provenance.dirty
    validations:
      - expression: variables.clean
        messageExpression: '"built from a dirty tree at " + provenance.sourceCommit'
`;

describe('compilePolicyFile', () => {
  it('compiles valid policies with digests and matches', () => {
    const { policies, diagnostics } = compilePolicyFile(POLICIES, 'p.yaml');
    expect(diagnostics).toEqual([]);
    expect(policies.map((p) => p.definition.name)).toEqual(['non-root', 'clean-tree']);
    expect(policies[0]!.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(policyMatches(policies[1]!, { service: 'hello', env: 'dev', stage: 'deploy' })).toBe(false);
    expect(policyMatches(policies[1]!, { service: 'hello', env: 'prod', stage: 'promote' })).toBe(true);
    expect(policyMatches(policies[0]!, { service: 'any', env: 'dev', stage: 'admission' })).toBe(true);
  });

  it('runs at a build only the policies that name the build stage, whatever their environments', () => {
    const { policies } = compilePolicyFile(
      `${POLICIES}  - name: at-build
    match: { environments: [prod], stages: [build] }
    validations:
      - expression: image.config.user != ""
`,
      'p.yaml',
    );
    const atBuild = policies.filter((p) => policyMatches(p, { service: 'hello', env: '', stage: 'build' }));
    expect(atBuild.map((p) => p.definition.name)).toEqual(['at-build']);
    expect(policyMatches(policies[2]!, { service: 'hello', env: 'prod', stage: 'deploy' })).toBe(false);
  });

  it('reports a type error at the character in the file', () => {
    const text = `name: bad\nvalidations:\n  - expression: 'image.config.usr == "0"'\n`;
    const [d, ...rest] = compilePolicyFile(text, 'p.yaml').diagnostics;
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ file: 'p.yaml', line: 3, severity: 'error' });
    expect(d!.message).toMatch(/CEL type error: No such key: usr/);
    expect(d!.column).toBe(text.split('\n')[2]!.indexOf('usr') + 1);
  });

  it('reports a syntax error, a non-bool validation and unknown keys', () => {
    const text =
      'name: bad\nvalidatons: []\nvalidations:\n  - expression: image.config.user +\n  - expression: image.config.user\n';
    const messages = compilePolicyFile(text, 'p.yaml').diagnostics.map(
      (d) => `${d.line}:${d.column} ${d.message}`,
    );
    expect(messages).toEqual([
      expect.stringMatching(/^2:1 unknown key "validatons" in a policy; did you mean "validations"\?/),
      expect.stringMatching(/^4:36 CEL syntax: Unexpected token: EOF/),
      expect.stringMatching(/^5:17 the expression must be a bool, but it is string/),
    ]);
  });

  it('locates errors inside block scalars', () => {
    const text =
      'name: bad\nvalidations:\n  - expression: |\n      image.config.user != ""\n        && nope\n';
    const [d] = compilePolicyFile(text, 'p.yaml').diagnostics;
    expect(d).toMatchObject({ line: 5, column: 12 });
  });

  it('refuses expressions whose cost bound exceeds the budget, and patterns that are not RE2', () => {
    const text = `name: hostile
validations:
  - expression: sbom.components.all(a, sbom.components.all(b, sbom.components.all(c, a.name != b.name || b.name != c.name)))
  - expression: image.config.user.matches("(a+)\\\\1")
  - expression: image.config.user.matches(image.config.workingDir)
`;
    const messages = compilePolicyFile(text, 'p.yaml').diagnostics.map((d) => `${d.line} ${d.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/^3 the expression may cost up to .* over the limit/),
      expect.stringMatching(/^4 the pattern .* is not RE2 syntax/),
      expect.stringMatching(/^5 matches\(\) needs a literal pattern/),
    ]);
  });
});

describe('evaluatePolicies', () => {
  const { policies } = compilePolicyFile(POLICIES, 'p.yaml');

  it('allows an image that meets every policy', () => {
    const result = evaluatePolicies(policies, input());
    expect(result.violations).toEqual([]);
    expect(result.results.map((r) => r.validations.map((v) => v.result))).toEqual([['pass'], ['pass']]);
    expect(result.inputsDigest).toMatch(/^sha256:/);
  });

  it('names every failed rule with its message and expression', () => {
    const bad = input({ provenance: { ...input().provenance, dirty: true, sourceCommit: 'f00' } });
    bad.image.config.user = '0';
    const { violations } = evaluatePolicies(policies, bad);
    expect(violations).toEqual([
      {
        policy: 'non-root',
        validation: 0,
        reason: 'Forbidden',
        message: 'the image must not run as root',
        expression: '!image.config.user.startsWith("0")',
      },
      {
        policy: 'clean-tree',
        validation: 0,
        reason: 'Forbidden',
        message: 'built from a dirty tree at f00',
        expression: 'variables.clean',
      },
    ]);
  });

  it('looks packages up in sbom.packages (purl without version → versions), as the walk would find them', () => {
    const text = `policies:
  - name: no-left-pad
    validations:
      - expression: '!("pkg:npm/left-pad" in sbom.packages)'
        message: left-pad is banned
  - name: pinned
    validations:
      - expression: 'sbom.packages["pkg:npm/left-pad"].all(v, v == "1.3.0")'
        message: wrong version
`;
    const compiled = compilePolicyFile(text, 'p.yaml');
    expect(compiled.diagnostics).toEqual([]);
    const withPad = evaluatePolicies(compiled.policies, input());
    expect(withPad.violations.map((v) => v.policy)).toEqual(['no-left-pad']);
    const sbom = {
      present: true,
      components: [
        { name: 'left-pad', version: '1.3.0', purl: 'pkg:npm/left-pad@1.3.0?arch=x#sub', type: 'library' },
        { name: 'left-pad', version: '1.2.0', purl: 'pkg:npm/left-pad@1.2.0', type: 'library' },
      ],
    };
    const two = evaluatePolicies(compiled.policies, input({ sbom }));
    expect(two.violations.map((v) => v.policy)).toEqual(['no-left-pad', 'pinned']);
    const none = evaluatePolicies(
      compiled.policies.slice(0, 1),
      input({ sbom: { present: true, components: [] } }),
    );
    expect(none.violations).toEqual([]);
  });

  it('stops an expression whose cost for this input exceeds the budget, by failurePolicy', () => {
    const text = (fp: string) =>
      `name: walk\nfailurePolicy: ${fp}\nvalidations:\n  - expression: sbom.components.all(c, !c.purl.startsWith("pkg:npm/event-stream@"))\n`;
    const fail = compilePolicyFile(text('Fail'), 'p.yaml');
    expect(fail.diagnostics).toEqual([]);
    // Far more components than the declared bound: the real bound exceeds the budget.
    const components = Array.from({ length: 200_000 }, (_, i) => ({
      name: `p${i}`,
      version: '1',
      purl: `pkg:npm/p${i}@1`,
      type: 'library',
    }));
    const many = input({ sbom: { present: true, components } });
    const denied = evaluatePolicies(fail.policies, many);
    expect(denied.violations).toHaveLength(1);
    expect(denied.violations[0]!.message).toMatch(/could not be evaluated: cost limit exceeded/);
    const ignored = evaluatePolicies(compilePolicyFile(text('Ignore'), 'p.yaml').policies, many);
    expect(ignored.violations).toEqual([]);
    expect(ignored.warnings[0]).toMatch(/cost limit exceeded.*ignored by failurePolicy: Ignore/);
    expect(evaluatePolicies(fail.policies, input()).violations).toEqual([]);
  });

  it('bounds cost by the real input: a nested walk over a small list runs, over a large one it is refused', () => {
    const {
      policies: [p],
    } = compilePolicyFile(
      'name: ok\nvalidations:\n  - expression: sbom.components.all(c, c.name != "")\n',
      'p.yaml',
    );
    const ast = p!.validations[0]!.program.ast as never;
    expect(costOf(ast, { list: 10, string: 10 })).toBeLessThan(costOf(ast, { list: 10_000, string: 10 }));
    expect(costOf(ast, { list: 10_000, string: 10 })).toBeLessThanOrEqual(COST_LIMIT);
  });
});
