/**
 * Gives findings their line and column, by parsing the text once more with a parser that keeps
 * source positions (the `yaml` package). Only runs when there is something to report.
 */
import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { Diagnostic } from '../lib/index.js';
import type { Finding, PathPart } from './validate.js';

export interface SourceMap {
  doc: Document;
  lines: LineCounter;
}

export function sourceMap(text: string): SourceMap {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  return { doc, lines };
}

/** YAML-level problems (syntax, duplicate keys), located. */
export function yamlDiagnostics(map: SourceMap, file: string): Diagnostic[] {
  const { doc, lines } = map;
  return [...doc.errors, ...doc.warnings].map((e) => {
    const pos = lines.linePos(e.pos[0]);
    const first = e.message.split('\n')[0] ?? e.message;
    return {
      severity: doc.errors.includes(e as never) ? ('error' as const) : ('warning' as const),
      message: `YAML syntax: ${first.replace(/ at line \d+, column \d+.*$/, '')}`,
      file,
      line: pos.line,
      column: pos.col,
    };
  });
}

export function locate(map: SourceMap, file: string, f: Finding): Diagnostic {
  const { line, col } = map.lines.linePos(offsetOf(map.doc, f.path, f.at));
  return { severity: f.severity, message: f.message, file, line, column: col, path: f.path.join('.') };
}

/** Offset of the value (or key) at `path`; falls back to the nearest ancestor that exists. */
function offsetOf(doc: Document, path: PathPart[], at: 'key' | 'value'): number {
  for (let n = path.length; n >= 0; n--) {
    if (at === 'key' && n === path.length && n > 0) {
      const parent = doc.getIn(path.slice(0, n - 1), true) as Node | undefined;
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(path[n - 1]));
        const key = pair?.key as Node | undefined;
        if (key?.range) return key.range[0];
      }
    }
    const node =
      path.length === 0 && n === 0
        ? (doc.contents as Node | null)
        : (doc.getIn(path.slice(0, n), true) as Node | undefined);
    if (node?.range) return node.range[0];
  }
  return 0;
}
