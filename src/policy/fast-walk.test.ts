import { describe, expect, it } from 'vitest';
import { useFastWalks } from './fast-walk.js';
import { CelComponent, CelSignature, policyEnvironment } from './input.js';

const env = policyEnvironment();
const component = (purl: string, name = 'x', type = 'library') =>
  Object.assign(new CelComponent(), { name, version: '1.0.0', purl, type });
const context = (components: unknown[], signatures: unknown[] = []) => ({
  sbom: { present: true, components, packages: new Map() },
  signatures,
  image: { config: { env: ['A=b', 'NODE_ENV=production'] } },
});

/** The expression's result (or error message) with the fast path and with the interpreter alone. */
function both(expression: string, ctx: Record<string, unknown>) {
  const outcome = (fast: boolean) => {
    const program = env.parse(expression);
    if (fast) useFastWalks(program.ast);
    try {
      return { value: program(ctx) };
    } catch (error) {
      return { error: (error as Error).message.split('\n')[0] };
    }
  };
  return { fast: outcome(true), interpreted: outcome(false) };
}

const SBOM = [
  component('pkg:npm/left-pad@1.3.0', 'left-pad'),
  component('pkg:deb/debian/libc6@2.36', 'libc6', 'os'),
];
const EXPRESSIONS = [
  'sbom.components.exists(c, c.purl.startsWith("pkg:npm/left-pad@"))',
  'sbom.components.exists(c, c.purl.startsWith("pkg:npm/event-stream@"))',
  '!sbom.components.exists(c, c.purl.endsWith("@2.36") && c.type == "os")',
  'sbom.components.all(c, c.name != "" || c.purl.contains("npm"))',
  'sbom.components.all(c, c.type == "library")',
  'sbom.components.exists_one(c, c.name == "libc6")',
  'sbom.components.exists_one(c, !(c.name == "nothing"))',
  'signatures.exists(s, s.trusted)',
  'signatures.all(s, s.trusted == true)',
  'image.config.env.exists(e, e.startsWith("NODE_ENV="))',
];

describe('fast walks', () => {
  it('gives exactly the interpreter’s results on typed elements', () => {
    const ctx = context(SBOM, [Object.assign(new CelSignature(), { keyId: 'k', trusted: false })]);
    for (const expression of EXPRESSIONS) {
      const { fast, interpreted } = both(expression, ctx);
      expect(fast, expression).toEqual(interpreted);
      expect(fast.value, expression).toBeTypeOf('boolean');
    }
  });

  it('hands an element it cannot judge back to the interpreter, errors included', () => {
    // A component whose purl is not a string: CEL's own error (or result) must come out.
    const odd = Object.assign(new CelComponent(), { name: 'odd', version: '1', purl: 7n, type: 'library' });
    const ctx = context([...SBOM, odd]);
    for (const expression of EXPRESSIONS.slice(0, 7)) {
      const { fast, interpreted } = both(expression, ctx);
      expect(fast, expression).toEqual(interpreted);
    }
    expect(both('sbom.components.all(c, c.purl.startsWith("pkg:"))', ctx).fast.error).toBeDefined();
  });

  it('takes the fast path for a walk of fields against literals', () => {
    const program = env.parse(EXPRESSIONS[0] as string);
    const walk = program.ast as unknown as { evaluate: unknown };
    const before = walk.evaluate;
    useFastWalks(program.ast);
    expect(walk.evaluate).not.toBe(before);
  });

  it('walks an empty list as CEL does', () => {
    for (const expression of EXPRESSIONS.slice(0, 7)) {
      const { fast, interpreted } = both(expression, context([]));
      expect(fast, expression).toEqual(interpreted);
    }
  });

  it('leaves a walk whose predicate reads more than its element to the interpreter', () => {
    const program = env.parse('sbom.components.exists(c, c.name == sbom.components[0].name)');
    const walk = program.ast as unknown as { evaluate: unknown };
    const before = walk.evaluate;
    useFastWalks(program.ast);
    expect(walk.evaluate).toBe(before);
    expect(program(context(SBOM))).toBe(true);
  });
});
