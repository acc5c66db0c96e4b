/**
 * Which processes in an instance the image did not start: every process must descend from the
 * container's init (the entrypoint). One entered with `runc exec` (or nsenter) has a parent
 * outside the container, so its parent chain never reaches init.
 */
import type { ProcessInfo } from './types.js';

/** The processes of `list` that are neither `initPid` nor one of its descendants, by pid. */
export function foreignProcesses(initPid: number, list: ProcessInfo[]): ProcessInfo[] {
  const parentOf = new Map(list.map((p) => [p.pid, p.ppid]));
  const descends = (pid: number): boolean => {
    const seen = new Set<number>();
    let current: number | undefined = pid;
    while (current !== undefined && !seen.has(current)) {
      if (current === initPid) return true;
      seen.add(current);
      current = parentOf.get(current);
    }
    return false;
  };
  return list.filter((p) => !descends(p.pid)).sort((a, b) => a.pid - b.pid);
}
