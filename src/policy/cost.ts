/**
 * A CEL expression's cost bound, from its AST: every comprehension (`all`, `exists`, `map`, …)
 * costs the size of the list it walks times its body, string functions cost a tenth of the string's length.
 * The same bound is computed twice — at `cairn validate` with the documented input limits, and
 * before each evaluation with the input's real sizes — so no expression runs that could take
 * longer than the budget (CEL itself has no way to interrupt an evaluation).
 */

/** The largest list and string an evaluation may walk. */
export interface SizeBounds {
  list: number;
  string: number;
}

/** The limits `cairn validate` checks against; an input above them is bounded again at evaluation. */
export const DECLARED_BOUNDS: SizeBounds = { list: 10_000, string: 256 };

/** Cost units one expression may spend (the Kubernetes per-expression budget). */
export const COST_LIMIT = 1_000_000;

interface Node {
  op: string;
  args: unknown;
}

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const STRING_FUNCTIONS = new Set([
  'contains',
  'startsWith',
  'endsWith',
  'matches',
  'split',
  'replace',
  'indexOf',
]);

const isNode = (v: unknown): v is Node =>
  typeof v === 'object' && v !== null && typeof (v as Node).op === 'string';

function children(node: Node): Node[] {
  const out: Node[] = [];
  const visit = (v: unknown) => {
    if (isNode(v)) out.push(v);
    else if (Array.isArray(v)) for (const x of v) visit(x);
  };
  visit(node.args);
  return out;
}

/** An upper bound of the elements a list-valued expression can hold. */
function sizeOf(node: Node, bounds: SizeBounds): number {
  if (node.op === 'list') return Array.isArray(node.args) ? node.args.length : 0;
  if (node.op === '+') return children(node).reduce((n, c) => n + sizeOf(c, bounds), 0);
  if (node.op === 'rcall') {
    const [name, receiver] = node.args as [string, Node];
    if (name === 'map' || name === 'filter') return sizeOf(receiver, bounds);
  }
  return bounds.list;
}

/** The cost bound of an expression's AST under `bounds`. */
export function costOf(node: Node, bounds: SizeBounds): number {
  if (node.op === 'rcall') {
    const [name, receiver, args] = node.args as [string, Node, Node[]];
    if (COMPREHENSIONS.has(name)) {
      const body = args.at(-1);
      const perElement = 1 + (body ? costOf(body, bounds) : 0);
      return 1 + costOf(receiver, bounds) + sizeOf(receiver, bounds) * perElement;
    }
    // A string function walks its string: one unit per ten characters, as Kubernetes counts it.
    const own = STRING_FUNCTIONS.has(name) ? 1 + Math.ceil(bounds.string / 10) : 1;
    return own + costOf(receiver, bounds) + args.reduce((n, a) => n + costOf(a, bounds), 0);
  }
  const own = node.op === 'in' ? sizeOf((node.args as Node[])[1]!, bounds) : 1;
  return own + children(node).reduce((n, c) => n + costOf(c, bounds), 0);
}

/** The largest list and string in a value (the real bounds of one evaluation's input). */
export function boundsOf(value: unknown): SizeBounds {
  const bounds = { list: 0, string: 0 };
  const visit = (v: unknown) => {
    if (typeof v === 'string') bounds.string = Math.max(bounds.string, v.length);
    else if (Array.isArray(v)) {
      bounds.list = Math.max(bounds.list, v.length);
      for (const x of v) visit(x);
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.values(v);
      bounds.list = Math.max(bounds.list, entries.length);
      for (const x of entries) visit(x);
    }
  };
  visit(value);
  return bounds;
}
