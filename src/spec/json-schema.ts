/** Exports the cairn.yaml schema as JSON Schema (draft 2020-12) for editors. Pure. */
import { specSchema } from './schema.js';
import type { Schema } from './schema-types.js';

const PATTERNS: Record<string, string> = {
  name: '^[a-z][a-z0-9-]{0,62}$',
  envName: '^[A-Za-z_][A-Za-z0-9_]*$',
  secretRef: '^[A-Za-z_][A-Za-z0-9_]*$',
  absPath: '^/',
  urlPath: '^/',
  listen: '^.+:[0-9]{1,5}$',
  duration: '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)?([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))*$',
};

export function toJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://cairn.dev/schema/cairn.yaml.json',
    title: 'cairn.yaml',
    ...convert(specSchema),
  };
}

function convert(schema: Schema): Record<string, unknown> {
  const base: Record<string, unknown> = schema.description ? { description: schema.description } : {};
  if ('default' in schema && schema.default !== undefined) base.default = schema.default;
  switch (schema.kind) {
    case 'string':
      if (schema.enum) return { ...base, enum: [...schema.enum] };
      return {
        ...base,
        type: 'string',
        ...(schema.format && PATTERNS[schema.format] ? { pattern: PATTERNS[schema.format] } : {}),
      };
    case 'number':
      return {
        ...base,
        type: schema.integer ? 'integer' : 'number',
        ...(schema.min === undefined ? {} : { minimum: schema.min }),
        ...(schema.max === undefined ? {} : { maximum: schema.max }),
      };
    case 'duration':
      return {
        ...base,
        anyOf: [
          { type: 'integer', minimum: schema.min ?? 0 },
          { type: 'string', pattern: PATTERNS.duration },
        ],
      };
    case 'boolean':
      return { ...base, type: 'boolean' };
    case 'array':
      return {
        ...base,
        type: 'array',
        items: convert(schema.items),
        ...(schema.minItems ? { minItems: schema.minItems } : {}),
      };
    case 'map':
      return {
        ...base,
        type: 'object',
        propertyNames: convert(schema.keys),
        additionalProperties: convert(schema.values),
      };
    case 'object': {
      const object = {
        type: 'object',
        additionalProperties: false,
        properties: Object.fromEntries(Object.entries(schema.fields).map(([k, f]) => [k, convert(f.schema)])),
        required: Object.entries(schema.fields)
          .filter(([, f]) => f.required)
          .map(([k]) => k),
      };
      const shorthand = schema.shorthand && schema.fields[schema.shorthand];
      return shorthand ? { ...base, anyOf: [convert(shorthand.schema), object] } : { ...base, ...object };
    }
  }
}
