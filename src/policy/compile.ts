/**
 * Policy files → compiled policies and every problem in them, each at file:line:column: YAML and
 * shape problems at the offending key, CEL syntax and type errors at the character in the
 * expression, expressions whose cost bound exceeds the budget at the expression. Pure: text in,
 * programs and diagnostics out.
 */
import type { Environment } from '@marcbachmann/cel-js';
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Scalar,
  type YAMLMap,
} from 'yaml';
import { canonicalJson, closest, type Diagnostic, sha256Digest } from '../lib/index.js';
import { COST_LIMIT, costOf, DECLARED_BOUNDS } from './cost.js';
import { useFastWalks } from './fast-walk.js';
import { policyEnvironment } from './input.js';
import { re2Problem, useRe2Matches } from './regex.js';
import { POLICY_STAGES, type PolicyDefinition, type PolicySource, type PolicyStage } from './types.js';

/** A parsed CEL program: call it with the input; `ast` is what the cost bound walks. */
export type Program = ((context: Record<string, unknown>) => unknown) & { ast: unknown };

export interface CompiledPolicy extends PolicySource {
  variables: Array<{ name: string; expression: string; program: Program }>;
  validations: Array<{
    expression: string;
    program: Program;
    message?: string;
    messageExpression?: string;
    messageProgram?: Program;
    reason: string;
  }>;
}

export interface CompileResult {
  policies: CompiledPolicy[];
  diagnostics: Diagnostic[];
}

const POLICY_KEYS = ['name', 'match', 'failurePolicy', 'variables', 'validations'];
const MATCH_KEYS = ['services', 'environments', 'stages'];
const VALIDATION_KEYS = ['expression', 'message', 'messageExpression', 'reason'];
const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

let base: Environment | undefined;
const environment = () => {
  base ??= policyEnvironment();
  return base;
};

/** Compiles the policies of one file (a policy, a list of them, or `policies: [...]`). */
export function compilePolicyFile(text: string, file: string): CompileResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const diagnostics: Diagnostic[] = [];
  const at = (offset: number, message: string) => {
    const { line, col } = lines.linePos(offset);
    diagnostics.push({ severity: 'error', message, file, line, column: col });
  };
  const atNode = (node: Node | null | undefined, message: string) => at(node?.range?.[0] ?? 0, message);
  const report: Report = { source: text, at, atNode, errors: () => diagnostics.length };
  for (const e of doc.errors) at(e.pos[0], `YAML syntax: ${e.message.split('\n')[0]}`);
  if (doc.errors.length > 0) return { policies: [], diagnostics };

  const root = doc.contents as Node | null;
  const listed =
    isMap(root) && !root.has('validations') ? (root.get('policies', true) as Node | undefined) : undefined;
  const items: Node[] = isSeq(root)
    ? (root.items as Node[])
    : isSeq(listed)
      ? (listed.items as Node[])
      : root
        ? [root]
        : [];
  if (items.length === 0) atNode(root, 'a policy file needs at least one policy (name, match, validations)');

  const policies: CompiledPolicy[] = [];
  const names = new Set<string>();
  for (const item of items) {
    const compiled = compileOne(item, report, file);
    if (!compiled) continue;
    if (names.has(compiled.definition.name)) {
      atNode(item, `policy "${compiled.definition.name}" is defined twice in this file`);
      continue;
    }
    names.add(compiled.definition.name);
    policies.push(compiled);
  }
  return { policies: diagnostics.length > 0 ? [] : policies, diagnostics };
}

interface Report {
  /** The whole file, to find where block scalars' lines start. */
  source: string;
  at: (offset: number, message: string) => void;
  atNode: (node: Node | null | undefined, message: string) => void;
  errors: () => number;
}

function unknownKeys(map: YAMLMap, allowed: string[], what: string, r: Report): void {
  for (const pair of map.items) {
    const key = String((pair.key as Scalar | null)?.value ?? '');
    if (allowed.includes(key)) continue;
    const near = closest(key, allowed);
    r.atNode(pair.key as Node, `unknown key "${key}" in ${what}${near ? `; did you mean "${near}"?` : ''}`);
  }
}

function stringList(node: unknown, what: string, r: Report): string[] {
  if (node === undefined) return [];
  if (!isSeq(node) || !node.items.every((i) => isScalar(i) && typeof i.value === 'string')) {
    r.atNode(node as Node, `${what} must be a list of strings`);
    return [];
  }
  return node.items.map((i) => String((i as Scalar).value));
}

function scalarString(map: YAMLMap, key: string, what: string, r: Report): { value?: string; node?: Scalar } {
  const node = map.get(key, true) as Node | undefined;
  if (node === undefined) return {};
  if (!isScalar(node) || typeof node.value !== 'string') {
    r.atNode(node, `${what}.${key} must be a string`);
    return {};
  }
  return { value: node.value, node };
}

function compileOne(item: Node, r: Report, file: string): CompiledPolicy | undefined {
  if (!isMap(item)) {
    r.atNode(item, 'a policy is a mapping with name, match and validations');
    return undefined;
  }
  const before = r.errors();
  unknownKeys(item, POLICY_KEYS, 'a policy', r);
  const name = scalarString(item, 'name', 'policy', r).value;
  if (name === undefined) r.atNode(item, 'a policy needs a name');
  else if (!NAME.test(name))
    r.atNode(
      item.get('name', true) as Node,
      `policy name "${name}" must be lowercase letters, digits and dashes`,
    );
  const what = `policy "${name ?? '?'}"`;

  const matchNode = item.get('match', true) as Node | undefined;
  const match: PolicyDefinition['match'] = { services: [], environments: [], stages: [] };
  if (matchNode !== undefined) {
    if (!isMap(matchNode)) r.atNode(matchNode, `${what}: match must be a mapping`);
    else {
      unknownKeys(matchNode, MATCH_KEYS, 'match', r);
      match.services = stringList(matchNode.get('services', true), 'match.services', r);
      match.environments = stringList(matchNode.get('environments', true), 'match.environments', r);
      const stagesNode = matchNode.get('stages', true) as Node | undefined;
      for (const [i, s] of stringList(stagesNode, 'match.stages', r).entries()) {
        if ((POLICY_STAGES as readonly string[]).includes(s)) match.stages.push(s as PolicyStage);
        else
          r.atNode(
            (stagesNode as unknown as { items: Node[] }).items[i],
            `stage "${s}" is not one of ${POLICY_STAGES.join(', ')}`,
          );
      }
    }
  }

  const fp = scalarString(item, 'failurePolicy', 'policy', r);
  if (fp.value !== undefined && fp.value !== 'Fail' && fp.value !== 'Ignore') {
    r.atNode(fp.node, `failurePolicy must be Fail or Ignore, not "${fp.value}"`);
  }
  const failurePolicy = fp.value === 'Ignore' ? 'Ignore' : 'Fail';

  // Variables compile in order; each sees the ones before it as `variables.<name>`.
  const variables: CompiledPolicy['variables'] = [];
  const varTypes: Record<string, string> = {};
  const varsNode = item.get('variables', true) as Node | undefined;
  const envWith = () =>
    environment()
      .clone()
      .registerVariable({ name: 'variables', schema: { ...varTypes } });
  if (varsNode !== undefined && !isSeq(varsNode))
    r.atNode(varsNode, `${what}: variables must be a list of {name, expression}`);
  for (const v of isSeq(varsNode) ? (varsNode.items as Node[]) : []) {
    if (!isMap(v)) {
      r.atNode(v, 'a variable is {name, expression}');
      continue;
    }
    unknownKeys(v, ['name', 'expression'], 'a variable', r);
    const vn = scalarString(v, 'name', 'variable', r).value;
    const ve = scalarString(v, 'expression', 'variable', r);
    if (!vn || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(vn)) {
      r.atNode(v, 'a variable needs a name made of letters, digits and underscores');
      continue;
    }
    if (ve.value === undefined || !ve.node) {
      r.atNode(v, `variable "${vn}" needs an expression`);
      continue;
    }
    const env = envWith();
    const compiled = compileExpression(env, ve.value, ve.node, r);
    if (!compiled) continue;
    variables.push({ name: vn, expression: ve.value, program: compiled.program });
    varTypes[vn] = schemaType(compiled.type);
  }

  const validations: CompiledPolicy['validations'] = [];
  const valNode = item.get('validations', true) as Node | undefined;
  if (!isSeq(valNode) || valNode.items.length === 0)
    r.atNode(valNode ?? item, `${what} needs validations: a list of {expression, message}`);
  const env = envWith();
  for (const v of isSeq(valNode) ? (valNode.items as Node[]) : []) {
    if (!isMap(v)) {
      r.atNode(v, 'a validation is {expression, message, reason}');
      continue;
    }
    unknownKeys(v, VALIDATION_KEYS, 'a validation', r);
    const e = scalarString(v, 'expression', 'validation', r);
    if (e.value === undefined || !e.node) {
      r.atNode(v, 'a validation needs an expression');
      continue;
    }
    const compiled = compileExpression(env, e.value, e.node, r, 'bool');
    const message = scalarString(v, 'message', 'validation', r).value;
    const me = scalarString(v, 'messageExpression', 'validation', r);
    const messageProgram =
      me.value !== undefined && me.node ? compileExpression(env, me.value, me.node, r, 'string') : undefined;
    const reason = scalarString(v, 'reason', 'validation', r).value ?? 'Forbidden';
    if (!compiled) continue;
    validations.push({
      expression: e.value,
      program: compiled.program,
      ...(message !== undefined ? { message } : {}),
      ...(me.value !== undefined && messageProgram
        ? { messageExpression: me.value, messageProgram: messageProgram.program }
        : {}),
      reason,
    });
  }
  if (r.errors() > before || name === undefined) return undefined;

  const definition: PolicyDefinition = {
    name,
    match,
    failurePolicy,
    variables: variables.map(({ name, expression }) => ({ name, expression })),
    validations: validations.map(({ expression, message, messageExpression, reason }) => ({
      expression,
      ...(message !== undefined ? { message } : {}),
      ...(messageExpression !== undefined ? { messageExpression } : {}),
      reason,
    })),
  };
  return { definition, file, digest: sha256Digest(canonicalJson(definition)), variables, validations };
}

/** A type CEL reported, as a schema type a later expression can declare (implicit types become dyn). */
function schemaType(type: string | undefined): string {
  if (!type || type.includes('$')) return 'dyn';
  return type;
}

/** Parses and type-checks one expression; reports problems at their character in the file. */
function compileExpression(
  env: Environment,
  text: string,
  node: Scalar,
  r: Report,
  want?: 'bool' | 'string',
): { program: Program; type: string } | undefined {
  const report = (offset: number, message: string) => r.at(fileOffset(node, text, offset, r.source), message);
  let program: Program;
  try {
    program = env.parse(text) as unknown as Program;
  } catch (error) {
    const e = error as { summary?: string; message: string; range?: { start: number } };
    report(e.range?.start ?? 0, `CEL syntax: ${e.summary ?? e.message.split('\n')[0]}`);
    return undefined;
  }
  const checked = env.check(text) as {
    valid: boolean;
    type?: string;
    error?: { summary?: string; message: string; range?: { start: number } };
  };
  if (!checked.valid) {
    const e = checked.error;
    report(e?.range?.start ?? 0, `CEL type error: ${e?.summary ?? e?.message.split('\n')[0] ?? 'invalid'}`);
    return undefined;
  }
  if (want && checked.type !== want && checked.type !== 'dyn') {
    report(0, `the expression must be ${want === 'bool' ? 'a bool' : 'a string'}, but it is ${checked.type}`);
    return undefined;
  }
  const patterns = regexProblems(program.ast);
  for (const problem of patterns) report(problem.offset, problem.message);
  if (patterns.length > 0) return undefined;
  useRe2Matches(program.ast);
  useFastWalks(program.ast);
  const cost = costOf(program.ast as never, DECLARED_BOUNDS);
  if (cost > COST_LIMIT) {
    report(
      0,
      `the expression may cost up to ${cost.toExponential(1)} units, over the limit of ${COST_LIMIT.toExponential(0)} (lists of up to ${DECLARED_BOUNDS.list} elements): avoid nested comprehensions over the SBOM`,
    );
    return undefined;
  }
  return { program, type: checked.type ?? 'dyn' };
}

/**
 * `matches` takes a literal pattern in RE2 syntax: checked here, so a pattern RE2 refuses
 * (a backreference, lookaround) is a validate error at its character rather than a denial later.
 */
function regexProblems(ast: unknown): Array<{ offset: number; message: string }> {
  const out: Array<{ offset: number; message: string }> = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (typeof v !== 'object' || v === null) return;
    const n = v as { op?: string; args?: unknown; start?: number };
    if ((n.op === 'rcall' || n.op === 'call') && Array.isArray(n.args) && n.args[0] === 'matches') {
      const args = (n.op === 'rcall' ? n.args[2] : n.args[1]) as Array<{
        op: string;
        args: unknown;
        start?: number;
      }>;
      const pattern = args.at(-1);
      if (pattern?.op !== 'value' || typeof pattern.args !== 'string') {
        out.push({ offset: n.start ?? 0, message: 'matches() needs a literal pattern' });
      } else {
        const problem = re2Problem(pattern.args);
        if (problem) out.push({ offset: pattern.start ?? 0, message: problem });
      }
    }
    visit(n.args);
  };
  visit(ast);
  return out;
}

/** The file offset of character `offset` of a scalar's value (quoted, plain, or block scalars). */
function fileOffset(node: Scalar, value: string, offset: number, source: string): number {
  const start = node.range?.[0] ?? 0;
  if (node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE') return start + 1 + offset;
  if (node.type !== 'BLOCK_LITERAL' && node.type !== 'BLOCK_FOLDED') return start + offset;
  // A block scalar's content starts on the line after its header, indented; one value line per file line.
  const before = value.slice(0, offset);
  const line = before.split('\n').length - 1;
  const first = source.indexOf('\n', start) + 1;
  let indent = 0;
  while (source[first + indent] === ' ') indent++;
  let pos = first;
  for (let i = 0; i < line; i++) pos = source.indexOf('\n', pos) + 1;
  return pos + indent + offset - (before.lastIndexOf('\n') + 1);
}
