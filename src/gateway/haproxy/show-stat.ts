/** Reads HAProxy's `show stat` CSV: streams in progress or queued per `backend/server`. */
export function parseShowStat(csv: string): Map<string, number> {
  const lines = csv.split('\n');
  const header = (lines[0] ?? '').replace(/^#\s*/, '').split(',');
  const px = header.indexOf('pxname');
  const sv = header.indexOf('svname');
  const scur = header.indexOf('scur');
  const qcur = header.indexOf('qcur');
  const active = new Map<string, number>();
  if (px === -1 || sv === -1 || scur === -1) return active;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const f = line.split(',');
    active.set(`${f[px]}/${f[sv]}`, (Number(f[scur]) || 0) + (qcur === -1 ? 0 : Number(f[qcur]) || 0));
  }
  return active;
}
