/**
 * Every path cairn.yaml names must stay inside the project folder once `..` and symlinks are
 * followed: otherwise a repository's author could bake a host file (/etc/shadow, a CI runner's
 * credentials) into a signed image, or point a gate at a file outside review. Pure: where a path
 * really leads is asked of the rule context.
 */
import type { PathPart } from './validate.js';

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export interface PathRuleContext {
  error(path: PathPart[], message: string): void;
  /** Where a path relative to cairn.yaml really leads when that is outside the project folder. */
  outsideProject(relPath: string): string | undefined;
}

/** A path the spec names, where it is named, and what it is for (in messages). */
export interface NamedPath {
  at: PathPart[];
  value: string;
  what: string;
}

/**
 * Every path the spec names. The schema's `relPath` keys, plus the folder in `build.base:
 * oci:PATH:REF`; schema.test.ts keeps this list in step with the schema.
 */
export function namedPaths(spec: Obj): NamedPath[] {
  const out: NamedPath[] = [];
  const add = (at: PathPart[], value: unknown, what: string) => {
    if (typeof value === 'string' && value !== '') out.push({ at, value, what });
  };
  for (const [name, raw] of Object.entries(asObj(spec.services))) {
    const build = asObj(asObj(raw).build);
    const at = ['services', name, 'build'];
    add([...at, 'context'], build.context, 'build context');
    for (const [target, source] of Object.entries(asObj(build.files)))
      add([...at, 'files', target], source, `file for ${target}`);
    const base = typeof build.base === 'string' ? ociBasePath(build.base) : undefined;
    add([...at, 'base'], base, 'base image layout');
    for (const [env, settings] of Object.entries(asObj(asObj(raw).environments))) {
      for (const [target, source] of Object.entries(asObj(asObj(settings).files)))
        add(['services', name, 'environments', env, 'files', target], source, `file for ${target}`);
    }
  }
  for (const [name, raw] of Object.entries(asObj(spec.environments))) {
    const env = asObj(raw);
    asList(asObj(env.trust).keys).forEach((key, i) => {
      add(['environments', name, 'trust', 'keys', i], key, 'trusted key');
    });
    asList(env.policies).forEach((file, i) => {
      add(['environments', name, 'policies', i], file, 'policy file');
    });
  }
  asList(spec.routes).forEach((route, i) => {
    add(['routes', i, 'auth', 'jwks'], asObj(asObj(route).auth).jwks, 'JWKS file');
  });
  return out;
}

/** The folder of `oci:PATH:REF`, or undefined for another kind of base. */
export function ociBasePath(base: string): string | undefined {
  if (!base.startsWith('oci:')) return undefined;
  const rest = base.slice('oci:'.length);
  const colon = rest.indexOf(':');
  return colon > 0 ? rest.slice(0, colon) : undefined;
}

export function checkProjectPaths(spec: Obj, ctx: PathRuleContext): void {
  for (const named of namedPaths(spec)) {
    const target = ctx.outsideProject(named.value);
    if (target === undefined) continue;
    ctx.error(
      named.at,
      `${named.what} "${named.value}" resolves to ${target}, outside the project folder: ` +
        'a spec may name only files inside it; copy the file in (or set CAIRN_PROJECT_ROOT to a folder that holds both)',
    );
  }
}
