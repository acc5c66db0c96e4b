/** A time-series chart (uPlot) with a text summary beside it, so the numbers never depend on seeing colours. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLOURS = ['#2563eb', '#d97706', '#059669', '#7c3aed'];
const DASHES = [[], [6, 3], [2, 2], [8, 2, 2, 2]];

export interface ChartProps {
  id: string;
  title: string;
  unit: string;
  /** Seconds since the epoch. */
  xs: number[];
  series: Array<{ label: string; values: Array<number | null> }>;
}

export function Chart({ id, title, unit, xs, series }: ChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const shape = series.map((s) => s.label).join('|');
  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(260, Math.min(560, el.current.clientWidth || 520));
    plot.current = new uPlot(
      {
        width,
        height: 180,
        legend: { show: false },
        scales: { x: { time: true } },
        axes: [{}, { label: unit, size: 56 }],
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLOURS[i % COLOURS.length],
            dash: DASHES[i % DASHES.length],
            width: 2,
            spanGaps: false,
          })),
        ],
      },
      [xs, ...series.map((s) => s.values)],
      el.current,
    );
    return () => plot.current?.destroy();
  }, [shape]);
  useEffect(() => {
    plot.current?.setData([xs, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [xs, series]);
  const latest = series.map((s) => `${s.label}: ${format(s.values.at(-1))} ${unit}`).join('; ');
  return (
    <figure
      class="chart"
      aria-labelledby={`${id}-t`}
      data-testid={id}
      data-points={xs.length}
      data-latest={latest}
    >
      <figcaption id={`${id}-t`}>
        <strong>{title}</strong> <span class="latest">{xs.length ? latest : 'no samples yet'}</span>
      </figcaption>
      <div ref={el} role="img" aria-label={`${title}: ${latest}`} />
    </figure>
  );
}

function format(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 3 : 1);
}
