/**
 * Checks a plain value (the YAML already parsed) against a schema, collecting every problem with
 * the path where it is and producing the value with defaults. Pure. Locations (line, column) are
 * added afterwards by `locate.ts`, only when there is something to report: big valid specs never
 * pay for a position-tracking parse.
 */
import { closest, parseDurationMs } from '../lib/index.js';
import { checkFormat } from './formats.js';
import type { ObjectSchema, Schema } from './schema-types.js';

export type PathPart = string | number;

/** A problem before it has a location: where it is (a path) and whether the key or value is meant. */
export interface Finding {
  severity: 'error' | 'warning';
  message: string;
  path: PathPart[];
  at: 'key' | 'value';
}

type Obj = Record<string, unknown>;

const EXPECTED: Record<Schema['kind'], string> = {
  string: 'a string',
  number: 'a number',
  duration: 'a duration (milliseconds or a value like 10s)',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  map: 'a mapping',
};

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** A path built only when a problem is found: walking a big valid spec allocates no arrays. */
export type PathLink = { parent: PathLink; key: PathPart } | undefined;
const child = (parent: PathLink, key: PathPart): PathLink => ({ parent, key });
export function pathOf(link: PathLink): PathPart[] {
  const parts: PathPart[] = [];
  for (let l = link; l; l = l.parent) parts.push(l.key);
  return parts.reverse();
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function label(path: PathPart[]): string {
  if (path.length === 0) return 'cairn.yaml';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/**
 * Checks `value` against `schema`. Returns the value with defaults; an invalid scalar is undefined
 * and an invalid member is left out, so later rules can still look at the rest. Validity is "no
 * error findings", never the returned value.
 */
export function walk(value: unknown, schema: Schema, link: PathLink, out: Finding[]): unknown {
  const fail = (message: string): undefined => {
    const path = pathOf(link);
    out.push({ severity: 'error', message: `${label(path)}: ${message}`, path, at: 'value' });
    return undefined;
  };
  const mismatch = () => fail(`expected ${EXPECTED[schema.kind]}, got ${describe(value)}`);
  switch (schema.kind) {
    case 'object':
      if (typeof value === 'string' && schema.shorthand) {
        // Problems point at the string itself, where the user wrote it.
        const checked = walk(value, schema.fields[schema.shorthand]!.schema, link, out);
        return checked === undefined ? undefined : { [schema.shorthand]: checked };
      }
      return isObj(value) ? walkObject(value, schema, link, out) : mismatch();
    case 'map':
      return isObj(value) ? walkMap(value, schema, link, out) : mismatch();
    case 'array':
      if (!Array.isArray(value)) return mismatch();
      if (schema.minItems !== undefined && value.length < schema.minItems)
        return fail(`needs at least ${schema.minItems} item(s)`);
      // Invalid items stay as holes (undefined) so that indexes keep matching the file.
      return value.map((item, i) => walk(item, schema.items, child(link, i), out));
    case 'string': {
      if (typeof value !== 'string') return mismatch();
      if (schema.enum && !schema.enum.includes(value)) {
        const hint = closest(value, schema.enum);
        return fail(
          `"${value}" is not one of ${schema.enum.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
      }
      const problem = schema.format ? checkFormat(schema.format, value) : undefined;
      return problem ? fail(problem) : value;
    }
    case 'number':
      if (typeof value !== 'number') return mismatch();
      if (schema.integer && !Number.isInteger(value)) return fail(`${value} must be a whole number`);
      if (schema.min !== undefined && value < schema.min)
        return fail(`${value} is below the minimum ${schema.min}`);
      if (schema.max !== undefined && value > schema.max)
        return fail(`${value} is above the maximum ${schema.max}`);
      return value;
    case 'duration': {
      if (typeof value !== 'number' && typeof value !== 'string') return mismatch();
      const ms = parseDurationMs(value);
      if (ms === undefined)
        return fail(`"${value}" is not a duration: write milliseconds or a value like 10s, 5m`);
      if (schema.min !== undefined && ms < schema.min)
        return fail(`${value} is below the minimum ${schema.min}ms`);
      return ms;
    }
    case 'boolean':
      return typeof value === 'boolean' ? value : mismatch();
  }
}

function walkObject(value: Obj, schema: ObjectSchema, link: PathLink, out: Finding[]): Obj {
  const result: Obj = {};
  for (const key in value) {
    const field = schema.fields[key];
    if (!field) {
      const path = pathOf(link);
      const hint = closest(key, Object.keys(schema.fields));
      const known = hint ? `did you mean "${hint}"?` : `known keys: ${Object.keys(schema.fields).join(', ')}`;
      out.push({
        severity: 'error',
        message: `${label(path)}: unknown key "${key}" (${known})`,
        path: [...path, key],
        at: 'key',
      });
      continue;
    }
    const checked = walk(value[key], field.schema, child(link, key), out);
    if (checked !== undefined) result[key] = checked;
  }
  for (const name in schema.fields) {
    if (Object.hasOwn(value, name)) continue;
    const field = schema.fields[name]!;
    if (field.required) {
      const path = pathOf(link);
      out.push({
        severity: 'error',
        message: `${label(path)}: missing required key "${name}"`,
        path,
        at: 'value',
      });
    } else if (schema.fillDefaults !== false) {
      const dflt = defaultOf(field.schema);
      if (dflt !== undefined) result[name] = dflt;
    }
  }
  return result;
}

function walkMap(value: Obj, schema: Schema & { kind: 'map' }, link: PathLink, out: Finding[]): Obj {
  const result: Obj = {};
  for (const key in value) {
    const problem = schema.keys.format ? checkFormat(schema.keys.format, key) : undefined;
    if (problem) {
      const path = pathOf(link);
      out.push({ severity: 'error', message: `${label(path)}: ${problem}`, path: [...path, key], at: 'key' });
      continue;
    }
    const checked = walk(value[key], schema.values, child(link, key), out);
    if (checked !== undefined) result[key] = checked;
  }
  return result;
}

/** The default value of an absent optional field: its own default, or an object of its defaults. */
export function defaultOf(schema: Schema): unknown {
  if ('default' in schema && schema.default !== undefined) {
    return Array.isArray(schema.default) ? [...schema.default] : schema.default;
  }
  if (schema.kind === 'map') return {};
  if (schema.kind !== 'object' || schema.fillDefaults === false) return undefined;
  if (Object.values(schema.fields).some((f) => f.required)) return undefined;
  const result: Obj = {};
  for (const [name, field] of Object.entries(schema.fields)) {
    const d = defaultOf(field.schema);
    if (d !== undefined) result[name] = d;
  }
  return result;
}
