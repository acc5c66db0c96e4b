/**
 * The metrics of several gateway pods as one: slots of the same service, release and second are
 * added, and so are totals of the same route, service and release — what one gateway that took
 * every pod's requests would have recorded. Pure.
 */
import type { RecorderExport, SeriesTotals } from '../gateway/index.js';

const add = (a: number[], b: number[]): number[] => a.map((x, i) => x + (b[i] ?? 0));

export function mergeExports(exports: RecorderExport[]): RecorderExport {
  const slots = new Map<string, RecorderExport['slots'][number]>();
  const totals = new Map<string, SeriesTotals>();
  for (const e of exports) {
    for (const s of e.slots) {
      const key = `${s.service}\u0000${s.release}\u0000${s.second}`;
      const seen = slots.get(key);
      slots.set(
        key,
        seen
          ? { ...seen, classes: add(seen.classes, s.classes), histogram: add(seen.histogram, s.histogram) }
          : { ...s, classes: [...s.classes], histogram: [...s.histogram] },
      );
    }
    for (const t of e.totals) {
      const key = `${t.route}\u0000${t.service}\u0000${t.release}`;
      const seen = totals.get(key);
      totals.set(
        key,
        seen ? sumTotals(seen, t) : { ...t, classes: { ...t.classes }, histogram: [...t.histogram] },
      );
    }
  }
  return { slots: [...slots.values()], totals: [...totals.values()] };
}

function sumTotals(a: SeriesTotals, b: SeriesTotals): SeriesTotals {
  const classes = { ...a.classes };
  for (const k of Object.keys(classes) as Array<keyof SeriesTotals['classes']>) classes[k] += b.classes[k];
  return {
    ...a,
    classes,
    histogram: add(a.histogram, b.histogram),
    sumMs: a.sumMs + b.sumMs,
    count: a.count + b.count,
  };
}
