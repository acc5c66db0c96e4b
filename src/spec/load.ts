/** Reads cairn.yaml from disk and parses it; the file-system edge of the spec capability. */
import { closeSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Diagnostic, NotFoundError, sha256Digest, ValidationError } from '../lib/index.js';
import { compilePolicyFile } from '../policy/index.js';
import { type ParseResult, parseSpec } from './parse.js';
import {
  FileTooLargeError,
  MAX_POLICY_BYTES,
  MAX_SPEC_BYTES,
  projectRoot,
  readContainedFile,
  realPathOf,
} from './project-file.js';
import { escapeOf } from './project-path.js';
import type { FileKind } from './rules.js';
import type { LoadedSpec } from './types.js';

export interface CheckedSpec extends ParseResult {
  file: string;
  dir: string;
  /** The real folder every path the spec names must stay in (see `projectRoot`). */
  root: string;
  digest: string;
}

/** Reads and checks a spec, returning diagnostics rather than throwing on invalid content. */
export function checkSpecFile(file: string): CheckedSpec {
  const bytes = readSpecBytes(file);
  const dir = dirname(resolve(file));
  const root = projectRoot(dir);
  const kinds = new Map<string, FileKind>();
  const fileKind = (rel: string): FileKind => {
    if (!kinds.has(rel)) kinds.set(rel, kindOf(resolve(dir, rel)));
    return kinds.get(rel);
  };
  const escapes = new Map<string, string | undefined>();
  const outside = (rel: string) => {
    if (!escapes.has(rel)) escapes.set(rel, escapeOf(root, dir, rel, realPathOf));
    return escapes.get(rel);
  };
  const bytesOf = (rel: string): number | undefined => {
    try {
      return statSync(resolve(dir, rel)).size;
    } catch {
      return undefined;
    }
  };
  const result = parseSpec(bytes.toString('utf8'), file, fileKind, outside, bytesOf);
  const checked = { file, dir, root, digest: sha256Digest(bytes) };
  if (result.spec) {
    const problems = policyDiagnostics(result.spec, file, dir, root);
    if (problems.some((d) => d.severity === 'error')) {
      return { diagnostics: [...result.diagnostics, ...problems], ...checked };
    }
    result.diagnostics.push(...problems);
  }
  return { ...result, ...checked };
}

/** The spec's bytes, refused before reading when larger than MAX_SPEC_BYTES. */
function readSpecBytes(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new NotFoundError(`reading ${file}: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`, {
      hint: 'check the path given with -f',
      cause: error,
    });
  }
  try {
    const { size } = fstatSync(fd);
    if (size > MAX_SPEC_BYTES) throw new FileTooLargeError(file, size, MAX_SPEC_BYTES);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

const compiledPolicies = new Map<string, Diagnostic[]>();

/** CEL syntax, type and cost problems in the policy files environments name, at their file:line:column. */
function policyDiagnostics(
  spec: NonNullable<ParseResult['spec']>,
  file: string,
  dir: string,
  root: string,
): Diagnostic[] {
  const files = new Set(Object.values(spec.environments).flatMap((e) => e.policies ?? []));
  const out: Diagnostic[] = [];
  for (const rel of files) {
    const shown = join(dirname(file), rel);
    let text: string;
    try {
      text = readPolicyFile(root, resolve(dir, rel), shown);
    } catch (error) {
      // The spec's own rules report a missing or escaping file at its line; a file too big is reported here.
      if (error instanceof FileTooLargeError)
        out.push({ severity: 'error', message: error.message, file: shown, line: 1, column: 1 });
      continue;
    }
    const key = `${resolve(dir, rel)}\n${sha256Digest(text)}`;
    if (!compiledPolicies.has(key)) compiledPolicies.set(key, compilePolicyFile(text, shown).diagnostics);
    out.push(...compiledPolicies.get(key)!);
  }
  return out;
}

/**
 * Reads a policy file a spec names: inside the project folder and no larger than MAX_POLICY_BYTES.
 * Throws a CairnError saying why not.
 */
export function readPolicyFile(root: string, path: string, shownAs: string): string {
  return readContainedFile(root, path, { shownAs, maxBytes: MAX_POLICY_BYTES }).toString('utf8');
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
  return { spec: checked.spec, file, dir: checked.dir, root: checked.root, digest: checked.digest };
}

function kindOf(path: string): FileKind {
  try {
    const st = statSync(path);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}
