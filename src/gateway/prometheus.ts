/** Renders gateway counters in the Prometheus text exposition format (version 0.0.4). */
import { LATENCY_BOUNDS_MS, type MetricsSnapshot, type SeriesTotals } from './window-metrics.js';

const REQUESTS = 'cairn_gateway_requests_total';
const DURATION = 'cairn_gateway_request_duration_seconds';

/** Escapes a label value as the text format requires: backslash, double quote and newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string>): string {
  const body = Object.entries(pairs)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',');
  return `{${body}}`;
}

type LabelledSeries = SeriesTotals & { environment?: string };

function seriesLabels(s: LabelledSeries): Record<string, string> {
  const base = { route: s.route, service: s.service, release: s.release };
  return s.environment === undefined ? base : { environment: s.environment, ...base };
}

function requestLines(s: LabelledSeries): string[] {
  return Object.entries(s.classes)
    .filter(([, n]) => n > 0)
    .map(([cls, n]) => `${REQUESTS}${labels({ ...seriesLabels(s), code: cls })} ${n}`);
}

function histogramLines(s: LabelledSeries): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  LATENCY_BOUNDS_MS.forEach((boundMs, i) => {
    cumulative += s.histogram[i] ?? 0;
    lines.push(
      `${DURATION}_bucket${labels({ ...seriesLabels(s), le: String(boundMs / 1000) })} ${cumulative}`,
    );
  });
  lines.push(`${DURATION}_bucket${labels({ ...seriesLabels(s), le: '+Inf' })} ${s.count}`);
  lines.push(`${DURATION}_sum${labels(seriesLabels(s))} ${s.sumMs / 1000}`);
  lines.push(`${DURATION}_count${labels(seriesLabels(s))} ${s.count}`);
  return lines;
}

/** Every series of one snapshot, or of several keyed by environment (which becomes a label). */
function seriesOf(input: MetricsSnapshot | Record<string, MetricsSnapshot>): LabelledSeries[] {
  if (Array.isArray((input as MetricsSnapshot).series)) return [...(input as MetricsSnapshot).series];
  return Object.entries(input as Record<string, MetricsSnapshot>).flatMap(([environment, snapshot]) =>
    snapshot.series.map((s) => ({ ...s, environment })),
  );
}

/**
 * Prometheus text for gateway metrics: `cairn_gateway_requests_total` by route, service, release
 * and status class, and the `cairn_gateway_request_duration_seconds` histogram. Pass one
 * gateway's `snapshot()`, or `{ dev: gwDev.snapshot(), prod: gwProd.snapshot() }` to label by environment.
 * @example
 * res.end(renderPrometheus({ dev: devGateway.snapshot() }));
 */
export function renderPrometheus(input: MetricsSnapshot | Record<string, MetricsSnapshot>): string {
  const sorted = seriesOf(input).sort(
    (a, b) =>
      (a.environment ?? '').localeCompare(b.environment ?? '') ||
      a.route.localeCompare(b.route) ||
      a.service.localeCompare(b.service) ||
      a.release.localeCompare(b.release),
  );
  const out = [
    `# HELP ${REQUESTS} Requests answered by the gateway, by route, service, release and status class.`,
    `# TYPE ${REQUESTS} counter`,
    ...sorted.flatMap(requestLines),
    `# HELP ${DURATION} Time from request head to response end, as seen by the gateway.`,
    `# TYPE ${DURATION} histogram`,
    ...sorted.flatMap(histogramLines),
  ];
  return `${out.join('\n')}\n`;
}
