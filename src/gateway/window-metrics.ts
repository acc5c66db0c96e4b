/**
 * Request metrics per service and release in one-second slots, so the rollout analysis can ask
 * for any recent window, plus cumulative counters per route and release for Prometheus.
 * Memory is bounded: a fixed ring of slots per series and a fixed latency histogram.
 */
import type { WindowMetrics } from './types.js';

/** Upper bounds (ms) of the latency histogram buckets; a final +Inf bucket follows. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024,
  1536, 2048, 3072, 4096, 6144, 8192, 16384, 32768, 65536,
];
const BUCKETS = LATENCY_BOUNDS_MS.length + 1;
/** How far back `metrics()` can look. */
export const DEFAULT_RETENTION_MS = 600_000;

type StatusClassIndex = 0 | 1 | 2 | 3 | 4;
const CLASS_NAMES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface Slot {
  second: number;
  classes: Uint32Array;
  histogram: Uint32Array;
}

/** Cumulative counters of one route and release since the gateway started. */
export interface SeriesTotals {
  route: string;
  service: string;
  release: string;
  classes: Record<(typeof CLASS_NAMES)[number], number>;
  /** Counts per `LATENCY_BOUNDS_MS` bucket, then the +Inf bucket (each bucket alone, not cumulative). */
  histogram: number[];
  sumMs: number;
  count: number;
}

/** Cumulative counters of a gateway, as `renderPrometheus` takes them. */
export interface MetricsSnapshot {
  series: SeriesTotals[];
}

/** Recent one-second slots and all totals of a recorder: what a copy in another process needs. */
export interface RecorderExport {
  slots: Array<{ service: string; release: string; second: number; classes: number[]; histogram: number[] }>;
  totals: SeriesTotals[];
}

function bucketOf(ms: number): number {
  let lo = 0;
  let hi = LATENCY_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms <= LATENCY_BOUNDS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function classOf(status: number): StatusClassIndex {
  const c = Math.floor(status / 100) - 1;
  return Math.max(0, Math.min(4, c)) as StatusClassIndex;
}

/** The latency at quantile `q` from histogram counts, interpolated inside the bucket. */
export function quantileMs(histogram: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < histogram.length; i++) total += histogram[i]!;
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    const n = histogram[i]!;
    if (n > 0 && seen + n >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const upper = LATENCY_BOUNDS_MS[i] ?? lower * 2;
      return lower + ((upper - lower) * (rank - seen)) / n;
    }
    seen += n;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}

class SlotRing {
  private readonly slots: (Slot | undefined)[];
  constructor(size: number) {
    this.slots = new Array(size);
  }

  slotFor(second: number): Slot {
    const i = second % this.slots.length;
    let slot = this.slots[i];
    if (!slot) {
      slot = { second, classes: new Uint32Array(5), histogram: new Uint32Array(BUCKETS) };
      this.slots[i] = slot;
    } else if (slot.second !== second) {
      slot.second = second;
      slot.classes.fill(0);
      slot.histogram.fill(0);
    }
    return slot;
  }

  /** The latest second with a sample. */
  lastSecond(): number {
    let last = Number.NEGATIVE_INFINITY;
    for (const s of this.slots) if (s && s.second > last) last = s.second;
    return last;
  }

  /** Puts a copy of another ring's slot in place (a newer second overwrites an older one). */
  put(second: number, classes: ArrayLike<number>, histogram: ArrayLike<number>): void {
    const held = this.slots[second % this.slots.length];
    if (held && held.second > second) return;
    const slot = this.slotFor(second);
    slot.classes.set(classes);
    slot.histogram.set(histogram);
  }

  /** Slots whose second lies in (fromSecond, toSecond]. */
  *between(fromSecond: number, toSecond: number): Iterable<Slot> {
    for (const s of this.slots) if (s && s.second > fromSecond && s.second <= toSecond) yield s;
  }
}

/** Where one route and release's samples go: found through nested maps of the caller's own strings. */
interface SeriesCell {
  totals: SeriesTotals;
  ring: SlotRing | undefined;
}

export class MetricsRecorder {
  private readonly windows = new Map<string, SlotRing>();
  private readonly totals = new Map<string, SeriesTotals>();
  /**
   * route → service → release: the strings a request carries are the route table's and the pools'
   * own, so these lookups hash nothing, unlike a key joined per request. Cleared whenever
   * `windows` or `totals` lose an entry.
   */
  private readonly cells = new Map<string, Map<string, Map<string, SeriesCell>>>();
  private readonly slotCount: number;

  constructor(retentionMs = DEFAULT_RETENTION_MS) {
    this.slotCount = Math.max(2, Math.ceil(retentionMs / 1000) + 1);
  }

  /** Records one finished request. `release` is empty when none was chosen (404, 429, 401…). */
  record(
    route: string,
    service: string,
    release: string,
    status: number,
    durationMs: number,
    nowMs: number,
  ): void {
    const cls = classOf(status);
    const bucket = bucketOf(durationMs);
    const cell = this.cellOf(route, service, release);
    const t = cell.totals;
    t.classes[CLASS_NAMES[cls]]++;
    t.histogram[bucket]!++;
    t.sumMs += durationMs;
    t.count++;
    if (release === '') return;
    cell.ring ??= this.ringOf(service, release);
    const slot = cell.ring.slotFor(Math.floor(nowMs / 1000));
    slot.classes[cls]!++;
    slot.histogram[bucket]!++;
  }

  /** Metrics of one release of a service over the last `windowMs` (rounded up to whole seconds). */
  query(service: string, release: string, windowMs: number, nowMs: number): WindowMetrics {
    const classes = new Float64Array(5);
    const histogram = new Float64Array(BUCKETS);
    const ring = this.windows.get(`${service}\u0000${release}`);
    if (ring) {
      const nowS = Math.floor(nowMs / 1000);
      for (const slot of ring.between(nowS - Math.ceil(windowMs / 1000), nowS)) {
        for (let i = 0; i < 5; i++) classes[i]! += slot.classes[i]!;
        for (let i = 0; i < BUCKETS; i++) histogram[i]! += slot.histogram[i]!;
      }
    }
    const requests = classes.reduce((a, b) => a + b, 0);
    const errors = classes[4]!;
    const statusClasses = Object.fromEntries(
      CLASS_NAMES.map((n, i) => [n, classes[i]!]),
    ) as WindowMetrics['statusClasses'];
    return {
      windowMs,
      requests,
      errors,
      errorRate: requests === 0 ? 0 : errors / requests,
      statusClasses,
      p50Ms: quantileMs(histogram, 0.5),
      p95Ms: quantileMs(histogram, 0.95),
      p99Ms: quantileMs(histogram, 0.99),
    };
  }

  /** Drops the windows of releases that saw no request for the whole retention (old releases). */
  forgetIdle(nowMs: number): void {
    const nowS = Math.floor(nowMs / 1000);
    for (const [key, ring] of this.windows)
      if (ring.lastSecond() < nowS - this.slotCount) {
        this.windows.delete(key);
        this.cells.clear();
      }
  }

  /** Slots of `fromSecond` and later, and every total (see `importFrom`). */
  exportSince(fromSecond: number): RecorderExport {
    const slots: RecorderExport['slots'] = [];
    for (const [key, ring] of this.windows) {
      const [service, release] = key.split('\u0000') as [string, string];
      for (const s of ring.between(fromSecond - 1, Number.POSITIVE_INFINITY))
        slots.push({
          service,
          release,
          second: s.second,
          classes: [...s.classes],
          histogram: [...s.histogram],
        });
    }
    return { slots, totals: this.snapshot().series };
  }

  /** Makes this recorder a copy of another one's export: its slots overwrite, its totals replace. */
  importFrom(data: RecorderExport): void {
    for (const s of data.slots) {
      const key = `${s.service}\u0000${s.release}`;
      let ring = this.windows.get(key);
      if (!ring) {
        ring = new SlotRing(this.slotCount);
        this.windows.set(key, ring);
      }
      ring.put(s.second, s.classes, s.histogram);
    }
    this.totals.clear();
    this.cells.clear();
    for (const t of data.totals)
      this.totals.set(`${t.route}\u0000${t.service}\u0000${t.release}`, {
        ...t,
        classes: { ...t.classes },
        histogram: [...t.histogram],
      });
  }

  snapshot(): MetricsSnapshot {
    return {
      series: [...this.totals.values()].map((s) => ({
        ...s,
        classes: { ...s.classes },
        histogram: [...s.histogram],
      })),
    };
  }

  private cellOf(route: string, service: string, release: string): SeriesCell {
    let byService = this.cells.get(route);
    if (!byService) {
      byService = new Map();
      this.cells.set(route, byService);
    }
    let byRelease = byService.get(service);
    if (!byRelease) {
      byRelease = new Map();
      byService.set(service, byRelease);
    }
    let cell = byRelease.get(release);
    if (!cell) {
      cell = { totals: this.totalsOf(route, service, release), ring: undefined };
      byRelease.set(release, cell);
    }
    return cell;
  }

  private totalsOf(route: string, service: string, release: string): SeriesTotals {
    const key = `${route}\u0000${service}\u0000${release}`;
    let t = this.totals.get(key);
    if (!t) {
      const classes = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
      t = { route, service, release, classes, histogram: new Array(BUCKETS).fill(0), sumMs: 0, count: 0 };
      this.totals.set(key, t);
    }
    return t;
  }

  private ringOf(service: string, release: string): SlotRing {
    const key = `${service}\u0000${release}`;
    let ring = this.windows.get(key);
    if (!ring) {
      ring = new SlotRing(this.slotCount);
      this.windows.set(key, ring);
    }
    return ring;
  }
}
