/**
 * An OCI runtime config (config.json) reduced to one digest per field, so a difference can name the
 * fields that changed without ever showing a value. `process` and `linux` are split one level down
 * (`process.args`, `process.user`, `process.capabilities`, `linux.namespaces`, `linux.resources`, …)
 * and `process.env` one variable at a time, hashed with the workspace key: an env value may be
 * sensitive and short enough to guess from a plain hash. Every key of the config counts, including
 * ones cairn never writes (a `hooks` section added later is a new field). Pure.
 */
import { jsonDigest } from '../lib/index.js';
import type { DriftReason, PartChange, RuntimeConfigIdentity } from './types.js';

/** Sections split into one field per key. */
const SPLIT_SECTIONS = ['process', 'linux'];
/** How a config field is named to people: the file it was read from, then the field. */
export const CONFIG_PATH_PREFIX = 'config.json';

/** Hashes a value with the workspace key (see secret-hash.ts). */
export type KeyedHash = (value: string) => string;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The config as field name → digest.
 *
 * @example
 * runtimeConfigFields({ process: { args: ['node'], env: ['PORT=1'] } }, keyed)
 * // { 'process.args': 'sha256:…', 'process.env.PORT': 'hmac-sha256:…' }
 */
export function runtimeConfigFields(
  config: Record<string, unknown>,
  keyed: KeyedHash,
): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!SPLIT_SECTIONS.includes(key) || !isObject(value)) {
      fields[key] = jsonDigest(value);
      continue;
    }
    for (const [sub, subValue] of Object.entries(value)) {
      if (key === 'process' && sub === 'env' && Array.isArray(subValue)) {
        Object.assign(fields, envFields(subValue, keyed));
      } else {
        fields[`${key}.${sub}`] = jsonDigest(subValue);
      }
    }
  }
  return fields;
}

/** `NAME=value` entries as `process.env.NAME` → keyed hash of its value(s); a repeated name keeps all. */
function envFields(env: unknown[], keyed: KeyedHash): Record<string, string> {
  const values = new Map<string, string[]>();
  for (const entry of env) {
    const text = String(entry);
    const at = text.indexOf('=');
    const name = at < 0 ? text : text.slice(0, at);
    const value = at < 0 ? '' : text.slice(at + 1);
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  const fields: Record<string, string> = {};
  for (const [name, list] of values) {
    fields[`process.env.${name}`] = keyed(list.length === 1 ? list[0]! : JSON.stringify(list));
  }
  return fields;
}

/** The config's field digests and one digest over all of them. */
export function runtimeConfigIdentity(
  config: Record<string, unknown>,
  keyed: KeyedHash,
): RuntimeConfigIdentity {
  const fields = runtimeConfigFields(config, keyed);
  return { digest: jsonDigest(fields), fields };
}

/** Named parts (config fields, secrets) that were added, removed or changed, sorted by name. */
export function compareParts(
  expected: Record<string, string>,
  observed: Record<string, string>,
): Array<{ name: string; change: PartChange; expected?: string; observed?: string }> {
  const names = [...new Set([...Object.keys(expected), ...Object.keys(observed)])].sort();
  const out: Array<{ name: string; change: PartChange; expected?: string; observed?: string }> = [];
  for (const name of names) {
    const e = expected[name];
    const o = observed[name];
    if (e === o) continue;
    if (e === undefined) out.push({ name, change: 'added', observed: o! });
    else if (o === undefined) out.push({ name, change: 'removed', expected: e });
    else out.push({ name, change: 'changed', expected: e, observed: o });
  }
  return out;
}

/** One `config` reason per field that differs (field by field: the overall digest names nothing). */
export function compareRuntimeConfig(
  expected: RuntimeConfigIdentity,
  observed: RuntimeConfigIdentity,
): DriftReason[] {
  return compareParts(expected.fields, observed.fields).map(({ name, ...d }) => ({
    kind: 'config' as const,
    field: name,
    path: `${CONFIG_PATH_PREFIX} ${name}`,
    ...d,
  }));
}
