import { describe, expect, it } from 'vitest';
import { namedPaths } from './path-rules.js';
import { escapeOf, isInside, realTarget } from './project-path.js';
import { specSchema } from './schema.js';
import type { Schema } from './schema-types.js';

/** A file system of symlinks as a map from path to its real path; absent means nothing there. */
const fs = (links: Record<string, string>, exists: string[]) => (p: string) =>
  links[p] ?? (exists.includes(p) ? p : undefined);

describe('isInside', () => {
  it('takes the root itself and what lies below it, nothing else', () => {
    expect(isInside('/p', '/p')).toBe(true);
    expect(isInside('/p', '/p/a/b')).toBe(true);
    expect(isInside('/p', '/p/..etc')).toBe(true);
    expect(isInside('/p', '/pq')).toBe(false);
    expect(isInside('/p', '/')).toBe(false);
    expect(isInside('/p', '/etc/shadow')).toBe(false);
  });
});

describe('escapeOf', () => {
  const real = fs({ '/p/link': '/etc/shadow', '/p/conf': '/etc' }, [
    '/',
    '/p',
    '/p/app',
    '/p/app/a.json',
    '/etc',
    '/etc/passwd',
    '/etc/apt',
  ]);

  it('follows a symlink to a host file', () => {
    expect(escapeOf('/p', '/p', './link', real)).toBe('/etc/shadow');
  });

  it('follows ../ out of the project, existing or not', () => {
    expect(escapeOf('/p', '/p', '../../../etc/passwd', real)).toBe('/etc/passwd');
    expect(escapeOf('/p', '/p', '../../../etc/apt', real)).toBe('/etc/apt');
    expect(escapeOf('/p', '/p', '../nothing/here', real)).toBe('/nothing/here');
  });

  it('follows a symlinked folder even to a file that does not exist yet', () => {
    expect(realTarget('/p/conf/missing.json', real)).toBe('/etc/missing.json');
    expect(escapeOf('/p', '/p', 'conf/missing.json', real)).toBe('/etc/missing.json');
  });

  it('lets a path inside the project through, also one that goes up and back in', () => {
    expect(escapeOf('/p', '/p', './app/a.json', real)).toBeUndefined();
    expect(escapeOf('/p', '/p', 'app/../app/a.json', real)).toBeUndefined();
    expect(escapeOf('/p', '/p/app', '../app/new.json', real)).toBeUndefined();
  });
});

/** Every schema path whose string has format relPath, with `*` for map keys and `[]` for items. */
function relPathKeys(schema: Schema, at: string[] = []): string[] {
  if (schema.kind === 'string') return schema.format === 'relPath' ? [at.join('.')] : [];
  if (schema.kind === 'array') return relPathKeys(schema.items, [...at, '[]']);
  if (schema.kind === 'map') return relPathKeys(schema.values, [...at, '*']);
  if (schema.kind === 'object')
    return Object.entries(schema.fields).flatMap(([k, f]) => relPathKeys(f.schema, [...at, k]));
  return [];
}

describe('namedPaths', () => {
  it('covers every path key of the schema, and build.base oci: folders', () => {
    const spec = {
      services: {
        s: {
          build: { context: 'c', base: 'oci:./base:v1', files: { '/etc/x': 'f' } },
          environments: { e: { files: { '/etc/x': 'g' } } },
        },
      },
      environments: { e: { trust: { keys: ['k.pem'] }, policies: ['p.yaml'] } },
      routes: [{ auth: { jwks: 'j.json' } }],
    };
    const named = namedPaths(spec).map((n) =>
      n.at
        .map((p) => (typeof p === 'number' ? '[]' : p))
        .join('.')
        .replace(/^(services|environments)\.[se]\./, '$1.*.')
        .replace('.environments.e.', '.environments.*.'),
    );
    const expected = relPathKeys(specSchema).map((k) => k.replace('files.*', 'files./etc/x'));
    expect(named.sort()).toEqual([...expected, 'services.*.build.base'].sort());
  });
});
