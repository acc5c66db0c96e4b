/** Text progress bars for pushes and pulls: pure rendering, the caller decides where to write. */

const BAR_WIDTH = 24;
const UNITS = ['B', 'kB', 'MB', 'GB'];

/** 1536 → `1.5 kB` (powers of 1000, as registries and docker report sizes). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

/** `label [#########...........]  12.0 MB / 37.6 MB` */
export function renderProgressBar(label: string, done: number, total: number, width = BAR_WIDTH): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${formatBytes(done)} / ${formatBytes(total)}`;
}

/** A writer of per-blob progress lines: redrawn in place on a terminal, one line per finished blob otherwise. */
export function progressPrinter(write: (text: string) => void, isTty: boolean) {
  const finished = new Set<string>();
  return (digest: string, done: number, total: number): void => {
    const label = digest.replace(/^sha256:/, '').slice(0, 12);
    if (isTty) {
      write(`\r${renderProgressBar(label, done, total)}${done >= total ? '\n' : ''}`);
    } else if (done >= total && !finished.has(digest)) {
      write(`${renderProgressBar(label, done, total)}\n`);
    }
    if (done >= total) finished.add(digest);
  };
}
