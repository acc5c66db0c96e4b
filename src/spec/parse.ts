/**
 * Text of cairn.yaml → a typed, defaulted `Spec` and every diagnostic, each with file:line:column.
 * Pure: the only outside question, whether a referenced file exists, is a function passed in.
 */
import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { Diagnostic } from '../lib/index.js';
import { checkRules, type FileKind } from './rules.js';
import { specSchema } from './schema.js';
import type { CanaryStep, Spec } from './types.js';
import { type PathPart, report, type WalkContext, walk } from './validate.js';

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

export function parseSpec(text: string, file: string, fileKind: (rel: string) => FileKind): ParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const ctx: WalkContext = { file, doc, lines, diagnostics: [] };
  for (const e of [...doc.errors, ...doc.warnings]) {
    const severity = doc.errors.includes(e as never) ? 'error' : 'warning';
    const pos = lines.linePos(e.pos[0]);
    ctx.diagnostics.push({
      severity,
      message: yamlMessage(e.message),
      file,
      line: pos.line,
      column: pos.col,
    });
  }
  if (ctx.diagnostics.some((d) => d.severity === 'error')) return { diagnostics: ctx.diagnostics };
  if (doc.contents === null) {
    report(ctx, 0, 'cairn.yaml is empty: it needs at least project, services and environments', []);
    return { diagnostics: ctx.diagnostics };
  }
  const value = walk(ctx, doc.contents, specSchema, [], 0) as Record<string, unknown> | undefined;
  checkRules(value ?? {}, {
    error: (path, message, at) => reportAt(ctx, path, message, 'error', at),
    warn: (path, message, at) => reportAt(ctx, path, message, 'warning', at),
    fileKind,
  });
  ctx.diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  if (ctx.diagnostics.some((d) => d.severity === 'error')) return { diagnostics: ctx.diagnostics };
  return { spec: withStrategyDefaults(value as unknown as Spec), diagnostics: ctx.diagnostics };
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

function reportAt(
  ctx: WalkContext,
  path: PathPart[],
  message: string,
  severity: 'error' | 'warning',
  at?: 'key' | 'value',
) {
  const offset = offsetOf(ctx.doc, path, at ?? 'value');
  const { line, col } = ctx.lines.linePos(offset);
  ctx.diagnostics.push({ severity, message, file: ctx.file, line, column: col, path: path.join('.') });
}

/** Offset of the value (or key) at `path`; falls back to the nearest ancestor that exists. */
function offsetOf(doc: Document, path: PathPart[], at: 'key' | 'value'): number {
  for (let n = path.length; n >= 0; n--) {
    const parent = n === 0 ? null : (doc.getIn(path.slice(0, n - 1), true) as Node | undefined);
    if (at === 'key' && n === path.length && isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(path[n - 1]));
      const key = pair?.key as Node | undefined;
      if (key?.range) return key.range[0];
    }
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    if (node?.range) return node.range[0];
  }
  return 0;
}

function yamlMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return `YAML syntax: ${first.replace(/ at line \d+, column \d+.*$/, '')}`;
}
