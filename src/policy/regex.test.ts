import { describe, expect, it } from 'vitest';
import { compilePolicyFile } from './compile.js';
import { evaluatePolicies } from './evaluate.js';
import type { PolicyInput } from './input.js';

const input = (user: string, run: Record<string, unknown> = {}): PolicyInput => ({
  service: 'hello',
  environment: 'prod',
  stage: 'deploy',
  actor: 'alice',
  image: {
    digest: `sha256:${'a'.repeat(64)}`,
    created: '',
    config: { user, entrypoint: [], cmd: [], env: [], workingDir: '', labels: {}, exposedPorts: [] },
  },
  release: { id: 'r1', run },
  sbom: { present: false, components: [] },
  provenance: { present: false, builder: '', buildType: '', sourceCommit: '', dirty: false },
  signatures: [],
  scan: { present: false, dbAsOf: '', maxSeverity: 'none', findings: [] },
});

const policy = (expression: string) => {
  const { policies, diagnostics } = compilePolicyFile(
    `name: re\nvalidations:\n  - expression: '${expression}'\n`,
    'p.yaml',
  );
  expect(diagnostics).toEqual([]);
  return policies;
};

const elapsedMs = (f: () => unknown) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

describe('matches() with RE2', () => {
  it('evaluates the nested-quantifier patterns of issue 23 in linear time, even over 10,000 characters', () => {
    // A backtracking engine needs ~2^n steps here: 30 characters took 30 s, 40 would take hours.
    for (const [pattern, prefix] of [
      ['^P=((a+))+$', 'P='],
      ['^Q=(a|a)*$', 'Q='],
    ] as const) {
      const policies = policy(`!image.config.user.matches("${pattern}")`);
      for (const n of [30, 40, 10_000]) {
        const hostile = input(`${prefix}${'a'.repeat(n)}!`);
        let result: ReturnType<typeof evaluatePolicies> | undefined;
        expect(elapsedMs(() => (result = evaluatePolicies(policies, hostile)))).toBeLessThan(250);
        expect(result!.violations).toEqual([]);
      }
      // And the pattern still means what it says.
      expect(evaluatePolicies(policies, input(`${prefix}aaaa`)).violations).toHaveLength(1);
    }
  });

  it('matches any part of the string, as CEL specifies, also on a dyn receiver', () => {
    const policies = policy('image.config.user.matches("^[0-9]+:") && release.run.tier.matches("gold")');
    expect(evaluatePolicies(policies, input('1000:1000', { tier: 'x-gold-y' })).violations).toEqual([]);
    expect(evaluatePolicies(policies, input('root', { tier: 'gold' })).violations).toHaveLength(1);
  });

  it('refuses at validate a pattern RE2 cannot run, at its line and column', () => {
    const text = `name: perl-ish
validations:
  - expression: image.config.user.matches("(a)\\\\1")
  - expression: 'image.config.user.matches("^(?=x)")'
  - expression: image.config.user.matches(image.config.workingDir)
`;
    const found = compilePolicyFile(text, 'p.yaml').diagnostics.map(
      (d) => `${d.line}:${d.column} ${d.message}`,
    );
    expect(found).toEqual([
      expect.stringMatching(/^3:43 the pattern "\(a\)\\\\1" is not RE2 syntax \(invalid escape sequence/),
      expect.stringMatching(/^4:44 the pattern "\^\(\?=x\)" is not RE2 syntax \(invalid or unsupported Perl/),
      expect.stringMatching(/^5:17 matches\(\) needs a literal pattern/),
    ]);
  });
});
