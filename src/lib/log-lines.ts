/**
 * A process's own log (the control plane's, a gateway process's), written so that a full disk
 * cannot stop the process: a line that
 * cannot be written is kept (up to a bound) and written, in order, as soon as a write works again,
 * followed by how many lines did not fit. So the warning that the disk filled is in the log once
 * the disk has room, with the time it happened.
 */
import { fstatSync, writeSync } from 'node:fs';

/** Lines kept while writes fail; later ones are only counted. */
export const KEPT_LINES = 100;

export class LogLines {
  private readonly kept: string[] = [];
  private dropped = 0;

  /** `write` writes one line synchronously and throws when it cannot (e.g. ENOSPC). */
  constructor(
    private readonly write: (text: string) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Writes `{time, ...line}` as one JSON line, after whatever is still kept. */
  line(fields: Record<string, unknown>): void {
    const text = `${JSON.stringify({ time: this.now().toISOString(), ...fields })}\n`;
    if (this.flush()) {
      if (this.tryWrite(text)) return;
    }
    this.keep(text);
  }

  /** Writes the kept lines; true when none is left. */
  flush(): boolean {
    while (this.kept.length > 0) {
      if (!this.tryWrite(this.kept[0]!)) return false;
      this.kept.shift();
    }
    if (this.dropped > 0) {
      const note = `${JSON.stringify({ time: this.now().toISOString(), msg: 'log lines dropped while they could not be written', dropped: this.dropped })}\n`;
      if (!this.tryWrite(note)) return false;
      this.dropped = 0;
    }
    return true;
  }

  private keep(text: string): void {
    if (this.kept.length < KEPT_LINES) this.kept.push(text);
    else this.dropped++;
  }

  private tryWrite(text: string): boolean {
    try {
      this.write(text);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * The log of this process on file descriptor `fd` (1 or 2). A file (`cairn up --detach` writes to
 * .cairn/logs/control-plane.log, a gateway process to gateway-ENV.log) is written synchronously,
 * so a failed write is seen and kept; a terminal or a pipe through `write`. Failed writes of
 * anything else on stdout/stderr (a warning Node prints) are ignored rather than fatal.
 */
export function processLog(fd: 1 | 2, write: (text: string) => void): LogLines {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  const toFile = (() => {
    try {
      return fstatSync(fd).isFile();
    } catch {
      return false;
    }
  })();
  return new LogLines(toFile ? (text) => writeAllSync(fd, text) : write);
}

function writeAllSync(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let at = 0;
  while (at < bytes.length) at += writeSync(fd, bytes, at);
}
