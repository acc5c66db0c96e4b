/**
 * CEL's `matches()` with RE2 semantics, as the CEL specification defines it: a linear-time engine
 * (re2js, a port of RE2), so no pattern can make an evaluation backtrack for ever — whatever its
 * nesting of quantifiers. Patterns outside RE2 (backreferences, lookaround) are syntax errors,
 * reported at `cairn validate`. JavaScript's RegExp (a backtracking engine) is never used for a
 * policy's pattern.
 */
import { createRequire } from 'node:module';

/** The name compiled programs call `matches` by (see `useRe2Matches`): no CEL source can spell it. */
export const RE2_MATCHES = 'matches#re2';

/** The part of re2js used here. */
interface Re2Pattern {
  test(text: string): boolean;
}
type Re2Compiler = { compile(pattern: string): Re2Pattern };

const NOT_INSTALLED =
  'matches() needs the RE2 engine (npm package re2js), which is not installed: run npm ci';
let engine: Re2Compiler | null | undefined;

/**
 * re2js, loaded on first use. An install without it fails closed — every pattern is refused, at
 * validate and at evaluation — and everything that does not use `matches()` keeps working;
 * there is no fallback to RegExp.
 */
function re2(): Re2Compiler {
  if (engine === undefined) {
    try {
      engine = (createRequire(import.meta.url)('re2js') as { RE2JS: Re2Compiler }).RE2JS;
    } catch {
      engine = null;
    }
  }
  if (!engine) throw new Error(NOT_INSTALLED);
  return engine;
}

const compiled = new Map<string, Re2Pattern>();
const COMPILED_PATTERNS = 512;

function compile(pattern: string): Re2Pattern {
  let re = compiled.get(pattern);
  if (!re) {
    re = re2().compile(pattern);
    if (compiled.size >= COMPILED_PATTERNS) compiled.delete(compiled.keys().next().value!);
    compiled.set(pattern, re);
  }
  return re;
}

/** `text.matches(pattern)`: does the pattern match any part of the text (RE2, linear time)? */
export function re2Matches(text: string, pattern: string): boolean {
  return compile(pattern).test(text);
}

/** Why `matches()` cannot use `pattern` (not RE2 syntax, or no engine), or undefined when it can. */
export function re2Problem(pattern: string): string | undefined {
  try {
    compile(pattern);
    return undefined;
  } catch (error) {
    const why = (error as Error).message;
    if (why === NOT_INSTALLED) return why;
    return `the pattern ${JSON.stringify(pattern)} is not RE2 syntax (${why.replace(/^error parsing regexp: /, '')}): matches() uses RE2, which has no backreferences or lookaround`;
  }
}

interface CallNode {
  op: string;
  args: unknown;
}

/**
 * Points every `matches` call of a parsed program at the RE2 function. cel-js implements
 * `matches` with RegExp and refuses a second overload of the same signature, so the program's
 * call nodes are renamed instead (`x.matches(p)` → `x.matches#re2(p)`, declared in
 * `policyEnvironment`). Type checking and error positions are unchanged: they read the source.
 */
export function useRe2Matches(ast: unknown): void {
  const visit = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (typeof v !== 'object' || v === null) return;
    const node = v as CallNode;
    const args = node.args;
    if (node.op === 'rcall' && Array.isArray(args) && args[0] === 'matches') {
      args[0] = RE2_MATCHES;
    }
    visit(args);
  };
  visit(ast);
}
