/**
 * Text of cairn.yaml → a typed, defaulted `Spec` and every diagnostic, each with file:line:column.
 * Pure: the only outside question, whether a referenced file exists, is a function passed in.
 *
 * Two parsers on purpose: js-yaml turns text into values fast (a 5,000-service spec in a few
 * hundred milliseconds); the `yaml` package, which keeps source positions but is an order of
 * magnitude slower, runs only when there is a problem to locate.
 */
import jsYaml from 'js-yaml';
import type { Diagnostic } from '../lib/index.js';
import { locate, sourceMap, yamlDiagnostics } from './locate.js';
import { checkRules, type FileKind } from './rules.js';
import { specSchema } from './schema.js';
import type { CanaryStep, Spec } from './types.js';
import { type Finding, walk } from './validate.js';

export interface ParseResult {
  /** Present only when there are no error diagnostics. */
  spec?: Spec;
  diagnostics: Diagnostic[];
}

/** The canary steps used when a canary service lists none. */
export const DEFAULT_CANARY_STEPS: CanaryStep[] = [
  { weight: 20, pauseMs: 30_000 },
  { analysis: {} },
  { weight: 50, pauseMs: 30_000 },
  { analysis: {} },
  { weight: 100 },
];

/**
 * Parses and checks a spec. `fileKind` says what exists at a path relative to the spec;
 * `outsideProject` where such a path really leads when that is outside the project folder;
 * `fileBytes` how big such a file is (configuration files have a size limit).
 */
export function parseSpec(
  text: string,
  file: string,
  fileKind: (rel: string) => FileKind,
  outsideProject: (rel: string) => string | undefined = () => undefined,
  fileBytes?: (rel: string) => number | undefined,
): ParseResult {
  let value: unknown;
  try {
    value = jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA, filename: file });
  } catch (error) {
    // Let the position-keeping parser name every syntax problem (js-yaml stops at the first);
    // where it sees none, js-yaml's own finding stands.
    const diagnostics = yamlDiagnostics(sourceMap(text), file);
    return {
      diagnostics: diagnostics.some((d) => d.severity === 'error')
        ? diagnostics
        : [jsYamlDiagnostic(error, file)],
    };
  }
  const findings: Finding[] = [];
  if (value === undefined || value === null) {
    findings.push({
      severity: 'error',
      message: 'cairn.yaml is empty: it needs at least project, services and environments',
      path: [],
      at: 'value',
    });
  } else {
    const checked = walk(value, specSchema, undefined, findings) as Record<string, unknown> | undefined;
    checkRules(checked ?? {}, {
      error: (path, message, at) => findings.push({ severity: 'error', message, path, at: at ?? 'value' }),
      warn: (path, message, at) => findings.push({ severity: 'warning', message, path, at: at ?? 'value' }),
      fileKind,
      outsideProject,
      ...(fileBytes ? { fileBytes } : {}),
    });
    value = checked;
  }
  const diagnostics = locateAll(text, file, findings);
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return { spec: withStrategyDefaults(value as Spec), diagnostics };
}

function jsYamlDiagnostic(error: unknown, file: string): Diagnostic {
  const e = error as { reason?: string; message?: string; mark?: { line: number; column: number } };
  return {
    severity: 'error',
    message: `YAML syntax: ${e.reason ?? e.message ?? 'unreadable YAML'}`,
    file,
    line: (e.mark?.line ?? 0) + 1,
    column: (e.mark?.column ?? 0) + 1,
  };
}

function locateAll(text: string, file: string, findings: Finding[]): Diagnostic[] {
  if (findings.length === 0) return [];
  const map = sourceMap(text);
  return findings.map((f) => locate(map, file, f)).sort((a, b) => a.line - b.line || a.column - b.column);
}

function withStrategyDefaults(spec: Spec): Spec {
  for (const service of Object.values(spec.services)) {
    if (service.deploy.strategy === 'canary' && !service.deploy.steps?.length) {
      service.deploy.steps = structuredClone(DEFAULT_CANARY_STEPS);
    }
    service.deploy.steps ??= [];
  }
  return spec;
}
