/**
 * A small schema language for cairn.yaml. One description drives three things: validation with
 * precise locations, defaults, and the JSON Schema that `cairn schema` prints for editors.
 */

export type Format =
  | 'trustDomain' // a SPIFFE trust domain
  | 'name' // a DNS label: services, environments
  | 'envName' // an environment variable name
  | 'secretRef' // the name of a secret, never its value
  | 'duration' // milliseconds or "10s", "5m"
  | 'glob' // a relative glob
  | 'relPath' // a path relative to the spec file
  | 'absPath' // an absolute path inside the image
  | 'listen' // host:port
  | 'urlPath' // starts with /
  | 'host' // a host name, "*" or "*.example.com"
  | 'date'; // YYYY-MM-DD or an RFC 3339 time

export interface BaseSchema {
  description?: string;
}

export interface StringSchema extends BaseSchema {
  kind: 'string';
  format?: Format;
  enum?: readonly string[];
  default?: string;
}

export interface NumberSchema extends BaseSchema {
  kind: 'number';
  integer?: boolean;
  min?: number;
  max?: number;
  default?: number;
}

export interface DurationSchema extends BaseSchema {
  kind: 'duration';
  min?: number;
  default?: number;
}

export interface BooleanSchema extends BaseSchema {
  kind: 'boolean';
  default?: boolean;
}

export interface ArraySchema extends BaseSchema {
  kind: 'array';
  items: Schema;
  minItems?: number;
  default?: unknown[];
}

export interface Field {
  schema: Schema;
  required?: boolean;
}

export interface ObjectSchema extends BaseSchema {
  kind: 'object';
  fields: Record<string, Field>;
  /** When false, absent fields stay absent (their presence means something, as in canary steps). */
  fillDefaults?: boolean;
  /** A plain string stands for `{ [shorthand]: string }` (`secrets: [DB]` for `[{ name: DB }]`). */
  shorthand?: string;
}

export interface MapSchema extends BaseSchema {
  kind: 'map';
  keys: StringSchema;
  values: Schema;
}

export type Schema =
  | StringSchema
  | NumberSchema
  | DurationSchema
  | BooleanSchema
  | ArraySchema
  | ObjectSchema
  | MapSchema;
