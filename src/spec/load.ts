/** Reads cairn.yaml from disk and parses it; the file-system edge of the spec capability. */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Diagnostic, NotFoundError, sha256Digest, ValidationError } from '../lib/index.js';
import { compilePolicyFile } from '../policy/index.js';
import { type ParseResult, parseSpec } from './parse.js';
import type { FileKind } from './rules.js';
import type { LoadedSpec } from './types.js';

export interface CheckedSpec extends ParseResult {
  file: string;
  dir: string;
  digest: string;
}

/** Reads and checks a spec, returning diagnostics rather than throwing on invalid content. */
export function checkSpecFile(file: string): CheckedSpec {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new NotFoundError(`reading ${file}: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`, {
      hint: 'check the path given with -f',
      cause: error,
    });
  }
  const dir = dirname(resolve(file));
  const kinds = new Map<string, FileKind>();
  const fileKind = (rel: string): FileKind => {
    if (!kinds.has(rel)) kinds.set(rel, kindOf(resolve(dir, rel)));
    return kinds.get(rel);
  };
  const result = parseSpec(bytes.toString('utf8'), file, fileKind);
  if (result.spec) {
    const problems = policyDiagnostics(result.spec, file, dir);
    if (problems.some((d) => d.severity === 'error')) {
      return { diagnostics: [...result.diagnostics, ...problems], file, dir, digest: sha256Digest(bytes) };
    }
    result.diagnostics.push(...problems);
  }
  return { ...result, file, dir, digest: sha256Digest(bytes) };
}

const compiledPolicies = new Map<string, Diagnostic[]>();

/** CEL syntax, type and cost problems in the policy files environments name, at their file:line:column. */
function policyDiagnostics(spec: NonNullable<ParseResult['spec']>, file: string, dir: string): Diagnostic[] {
  const files = new Set(Object.values(spec.environments).flatMap((e) => e.policies ?? []));
  const out: Diagnostic[] = [];
  for (const rel of files) {
    let text: string;
    try {
      text = readFileSync(resolve(dir, rel), 'utf8');
    } catch {
      continue; // the spec's own rules report a missing file at its line
    }
    const key = `${resolve(dir, rel)}\n${sha256Digest(text)}`;
    if (!compiledPolicies.has(key))
      compiledPolicies.set(key, compilePolicyFile(text, join(dirname(file), rel)).diagnostics);
    out.push(...compiledPolicies.get(key)!);
  }
  return out;
}

/** Loads a valid spec or throws a ValidationError carrying every diagnostic. */
export function loadSpec(file: string): LoadedSpec {
  const checked = checkSpecFile(file);
  if (!checked.spec) {
    const errors = checked.diagnostics.filter((d) => d.severity === 'error').length;
    throw new ValidationError(`validating ${file}: ${errors} problem(s)`, checked.diagnostics, {
      hint: `run \`cairn validate -f ${file}\` to see them all`,
    });
  }
  return { spec: checked.spec, file, dir: checked.dir, digest: checked.digest };
}

function kindOf(path: string): FileKind {
  try {
    const st = statSync(path);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}
