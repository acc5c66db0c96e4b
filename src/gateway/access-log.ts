/**
 * The gateway's access log (`.cairn/logs/gateway-access.log`): one line per request, and the first
 * thing to give up when the disk is full. A write that fails never takes the gateway process down:
 * the log stops (the disk watch says why, once), lines are counted instead of written, and it
 * starts again when the disk has space.
 */
import { createWriteStream, type WriteStream } from 'node:fs';

/** The part of the disk watch the access log needs. */
export interface DiskState {
  readonly isFull: boolean;
  report(error: unknown, action: string): boolean;
}

export class AccessLog {
  private stream: WriteStream | undefined;
  private dropped = 0;

  constructor(
    private readonly file: string,
    private readonly disk: DiskState,
    private readonly log: (line: Record<string, unknown>) => void,
  ) {
    this.open();
  }

  /** Appends one line, or counts it as dropped while the disk is full or the log is stopped. */
  write(line: string): void {
    if (!this.stream || this.disk.isFull) {
      this.dropped++;
      return;
    }
    this.stream.write(`${line}\n`);
  }

  /** Starts writing again (after the disk recovered); returns how many lines were dropped meanwhile. */
  resume(): { accessLogDropped: number } {
    const dropped = this.dropped;
    this.dropped = 0;
    if (!this.stream) this.open();
    return { accessLogDropped: dropped };
  }

  /** Lines dropped since the log last stopped. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** Ends the log; resolves once what was written is on disk (or failed to be). */
  close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    return new Promise((resolve) => (stream ? stream.end(() => resolve()) : resolve()));
  }

  private open(): void {
    const stream = createWriteStream(this.file, { flags: 'a', mode: 0o600 });
    stream.on('error', (error) => {
      if (this.stream === stream) this.stream = undefined;
      stream.destroy();
      if (!this.disk.report(error, `writing ${this.file}`))
        this.log({
          level: 'warn',
          msg: 'access log stopped: requests are not logged until `cairn up` restarts',
          error: error.message,
        });
    });
    this.stream = stream;
  }
}
