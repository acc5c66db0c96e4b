/**
 * Walks a parsed YAML document against a schema, collecting every problem with its location and
 * producing the defaulted value. Pure: takes a document, returns data.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node, type Pair } from 'yaml';
import { closest, type Diagnostic, parseDurationMs } from '../lib/index.js';
import { checkFormat } from './formats.js';
import type { ObjectSchema, Schema } from './schema-types.js';

export type PathPart = string | number;

export interface WalkContext {
  file: string;
  doc: Document;
  lines: LineCounter;
  diagnostics: Diagnostic[];
}

export function locationOf(ctx: WalkContext, offset: number): { line: number; column: number } {
  const pos = ctx.lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

export function report(ctx: WalkContext, offset: number, message: string, path: PathPart[]): void {
  ctx.diagnostics.push({
    severity: 'error',
    message,
    file: ctx.file,
    ...locationOf(ctx, offset),
    path: path.join('.'),
  });
}

function resolve(ctx: WalkContext, node: unknown): Node | null {
  if (isAlias(node)) return (node.resolve(ctx.doc) as Node | undefined) ?? null;
  return (node as Node | null) ?? null;
}

function describe(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string')
      return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
    return `${typeof v} ${String(v)}`;
  }
  return 'an unknown node';
}

const EXPECTED: Record<Schema['kind'], string> = {
  string: 'a string',
  number: 'a number',
  duration: 'a duration (milliseconds or a value like 10s)',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  map: 'a mapping',
};

/**
 * Checks `node` against `schema`. Returns the value with defaults; an invalid scalar is undefined and
 * an invalid member is left out, so later rules can still look at the rest. Validity is "no
 * diagnostics", never the returned value. `at` is the offset to blame when the node is missing.
 */
export function walk(ctx: WalkContext, raw: unknown, schema: Schema, path: PathPart[], at: number): unknown {
  const node = resolve(ctx, raw);
  const offset = node?.range?.[0] ?? at;
  const mismatch = (): undefined => {
    report(ctx, offset, `${label(path)}: expected ${EXPECTED[schema.kind]}, got ${describe(node)}`, path);
    return undefined;
  };
  switch (schema.kind) {
    case 'object':
      return isMap(node) ? walkObject(ctx, node, schema, path) : mismatch();
    case 'map':
      return isMap(node) ? walkMap(ctx, node, schema, path) : mismatch();
    case 'array':
      return isSeq(node) ? walkArray(ctx, node, schema, path) : mismatch();
    default:
      return isScalar(node) ? walkScalar(ctx, node.value, schema, path, offset, mismatch) : mismatch();
  }
}

function walkScalar(
  ctx: WalkContext,
  value: unknown,
  schema: Schema,
  path: PathPart[],
  offset: number,
  mismatch: () => undefined,
): unknown {
  const bad = (message: string): undefined => {
    report(ctx, offset, `${label(path)}: ${message}`, path);
    return undefined;
  };
  switch (schema.kind) {
    case 'string': {
      if (typeof value !== 'string') return mismatch();
      if (schema.enum && !schema.enum.includes(value)) {
        const hint = closest(value, schema.enum);
        return bad(
          `"${value}" is not one of ${schema.enum.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
      }
      const problem = schema.format ? checkFormat(schema.format, value) : undefined;
      return problem ? bad(problem) : value;
    }
    case 'number': {
      if (typeof value !== 'number') return mismatch();
      if (schema.integer && !Number.isInteger(value)) return bad(`${value} must be a whole number`);
      if (schema.min !== undefined && value < schema.min)
        return bad(`${value} is below the minimum ${schema.min}`);
      if (schema.max !== undefined && value > schema.max)
        return bad(`${value} is above the maximum ${schema.max}`);
      return value;
    }
    case 'duration': {
      if (typeof value !== 'number' && typeof value !== 'string') return mismatch();
      const ms = parseDurationMs(value);
      if (ms === undefined)
        return bad(`"${value}" is not a duration: write milliseconds or a value like 10s, 5m`);
      if (schema.min !== undefined && ms < schema.min)
        return bad(`${value} is below the minimum ${schema.min}ms`);
      return ms;
    }
    case 'boolean':
      return typeof value === 'boolean' ? value : mismatch();
    default:
      return mismatch();
  }
}

function walkObject(
  ctx: WalkContext,
  node: Node & { items: Pair[] },
  schema: ObjectSchema,
  path: PathPart[],
) {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const pair of node.items) {
    const key = keyText(ctx, pair);
    if (key === undefined) continue;
    const keyOffset = (pair.key as Node).range?.[0] ?? node.range?.[0] ?? 0;
    const field = schema.fields[key.text];
    if (!field) {
      const hint = closest(key.text, Object.keys(schema.fields));
      const known = hint ? `did you mean "${hint}"?` : `known keys: ${Object.keys(schema.fields).join(', ')}`;
      report(ctx, keyOffset, `${label(path)}: unknown key "${key.text}" (${known})`, [...path, key.text]);
      continue;
    }
    seen.add(key.text);
    const value = walk(ctx, pair.value, field.schema, [...path, key.text], keyOffset);
    if (value !== undefined) out[key.text] = value;
  }
  for (const [name, field] of Object.entries(schema.fields)) {
    if (seen.has(name)) continue;
    if (!field.required && schema.fillDefaults === false) continue;
    if (field.required) {
      report(ctx, node.range?.[0] ?? 0, `${label(path)}: missing required key "${name}"`, [...path, name]);
      continue;
    }
    const dflt = defaultOf(field.schema);
    if (dflt !== undefined) out[name] = dflt;
  }
  return out;
}

function walkMap(
  ctx: WalkContext,
  node: Node & { items: Pair[] },
  schema: Schema & { kind: 'map' },
  path: PathPart[],
) {
  const out: Record<string, unknown> = {};
  for (const pair of node.items) {
    const key = keyText(ctx, pair);
    if (key === undefined) continue;
    const keyOffset = (pair.key as Node).range?.[0] ?? 0;
    const problem = schema.keys.format ? checkFormat(schema.keys.format, key.text) : undefined;
    if (problem) {
      report(ctx, keyOffset, `${label(path)}: ${problem}`, [...path, key.text]);
      continue;
    }
    const value = walk(ctx, pair.value, schema.values, [...path, key.text], keyOffset);
    if (value !== undefined) out[key.text] = value;
  }
  return out;
}

function walkArray(
  ctx: WalkContext,
  node: Node & { items: unknown[] },
  schema: Schema & { kind: 'array' },
  path: PathPart[],
) {
  const start = node.range?.[0] ?? 0;
  if (schema.minItems !== undefined && node.items.length < schema.minItems) {
    report(ctx, start, `${label(path)}: needs at least ${schema.minItems} item(s)`, path);
    return undefined;
  }
  // Invalid items stay as holes (undefined) so that indexes keep matching the file.
  return node.items.map((item, i) => walk(ctx, item, schema.items, [...path, i], start));
}

function keyText(ctx: WalkContext, pair: Pair): { text: string } | undefined {
  const key = resolve(ctx, pair.key);
  if (isScalar(key) && (typeof key.value === 'string' || typeof key.value === 'number')) {
    return { text: String(key.value) };
  }
  report(ctx, key?.range?.[0] ?? 0, `keys must be plain strings, got ${describe(key)}`, []);
  return undefined;
}

/** The default value of an absent optional field: its own default, or an object of its defaults. */
export function defaultOf(schema: Schema): unknown {
  if ('default' in schema && schema.default !== undefined) return structuredClone(schema.default);
  if (schema.kind === 'map') return {};
  if (schema.kind !== 'object') return undefined;
  if (Object.values(schema.fields).some((f) => f.required)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(schema.fields)) {
    const d = defaultOf(field.schema);
    if (d !== undefined) out[name] = d;
  }
  return out;
}

function label(path: PathPart[]): string {
  return path.length === 0
    ? 'cairn.yaml'
    : path
        .map((p) => (typeof p === 'number' ? `[${p}]` : p))
        .join('.')
        .replace(/\.\[/g, '[');
}
