/**
 * `$(VAR)` references in `build.entrypoint`: the runtime expands those it can and leaves the rest as
 * written, so a typo would reach the app silently — `cairn validate` warns instead. Pure.
 */
import type { PathPart } from './validate.js';

type Obj = Record<string, unknown>;

export interface ArgRuleContext {
  warn(path: PathPart[], message: string): void;
}

/** Variables cairn sets in every instance (CAIRN_SERVICE_<NAME> too, for run.network.allow). */
const CAIRN_VARS = [
  'PORT',
  'HOST',
  'CAIRN_HOST',
  'CAIRN_SECRETS_DIR',
  // With `identity:` (docs/identity.md).
  'CAIRN_SVID_CERT',
  'CAIRN_SVID_KEY',
  'CAIRN_TRUST_BUNDLE',
  'CAIRN_SPIFFE_ID',
  'CAIRN_IDENTITY_HOP',
];
/** Variables every image has (the runtime adds PATH when the image has none). */
const IMAGE_VARS = ['PATH', 'HOME'];

const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The names `$(NAME)` in `text` refers to, with Kubernetes' rules (`$$` escapes). */
export function varReferences(text: string): string[] {
  const names: string[] = [];
  for (let i = 0; i < text.length - 1; i++) {
    if (text[i] !== '$') continue;
    if (text[i + 1] === '$') {
      i++;
      continue;
    }
    const close = text[i + 1] === '(' ? text.indexOf(')', i + 2) : -1;
    if (close < 0) continue;
    names.push(text.slice(i + 2, close));
    i = close;
  }
  return names;
}

/** Warns about `$(NAME)` in the entrypoint of the service at `at` that nothing defines, or that names a secret. */
export function checkArgs(at: PathPart[], service: Obj, ctx: ArgRuleContext): void {
  const build = asObj(service.build);
  const run = asObj(service.run);
  const secretEnv = asList(run.secrets).flatMap((s) => {
    const env = asObj(s).env;
    return typeof env === 'string' ? [env] : [];
  });
  const perEnv = Object.values(asObj(service.environments)).flatMap((e) => Object.keys(asObj(asObj(e).env)));
  const known = new Set([...CAIRN_VARS, ...IMAGE_VARS, ...Object.keys(asObj(build.env)), ...perEnv]);
  asList(build.entrypoint).forEach((arg, i) => {
    if (typeof arg !== 'string') return;
    for (const name of varReferences(arg)) {
      if (secretEnv.includes(name))
        ctx.warn(
          [...at, 'build', 'entrypoint', i],
          `$(${name}) names a secret: secrets are never put on a command line, so it stays "$(${name})"; read it from the environment or /run/secrets`,
        );
      else if (!known.has(name) && !name.startsWith('CAIRN_SERVICE_'))
        ctx.warn(
          [...at, 'build', 'entrypoint', i],
          `$(${name}) is not a variable cairn sets or build.env defines; unless the base image sets it, it stays as written (write $$(${name}) for a literal)`,
        );
    }
  });
}
