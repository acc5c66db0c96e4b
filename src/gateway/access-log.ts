/**
 * The gateway's access log (`.cairn/logs/gateway-access.log`): one line per request, and the first
 * thing to give up when the disk is full. A write that fails never takes the gateway process down:
 * the log stops (the disk watch says why, once), lines are counted instead of written, and it
 * starts again when the disk has space. It is rotated by size (`maintain`, once a second): the
 * file becomes `<file>.1` (replacing the one before) at `maxBytes`, so the log is bounded at twice
 * that; every gateway process appending to the same file reopens it when it sees it was rotated.
 */
import { createWriteStream, fstat, type WriteStream } from 'node:fs';
import { rename, stat } from 'node:fs/promises';

/** The access log is rotated at this size: at most twice this on disk (the file and `<file>.1`). */
export const ACCESS_LOG_MAX_BYTES = 64 * 1024 * 1024;

/** Lines wait for the end of the current turn of the event loop, or until this many characters. */
const FLUSH_CHARS = 64 * 1024;

/** The part of the disk watch the access log needs. */
export interface DiskState {
  readonly isFull: boolean;
  report(error: unknown, action: string): boolean;
}

export class AccessLog {
  private stream: WriteStream | undefined;
  /** The inode the stream appends to, once it is open (a rotation by any process changes the path's). */
  private inode: Promise<number | undefined> = Promise.resolve(undefined);
  private dropped = 0;
  /** Lines not yet handed to the stream: one write per turn, not one per request. */
  private pending = '';
  private pendingLines = 0;
  private readonly flush = (): void => {
    if (this.pendingLines === 0) return;
    const text = this.pending;
    this.pending = '';
    if (this.stream) this.stream.write(text);
    else this.dropped += this.pendingLines; // the stream failed meanwhile
    this.pendingLines = 0;
  };

  constructor(
    private readonly file: string,
    private readonly disk: DiskState,
    private readonly log: (line: Record<string, unknown>) => void,
    private readonly maxBytes = ACCESS_LOG_MAX_BYTES,
  ) {
    this.open();
  }

  /**
   * Rotates the file when it reached `maxBytes`, and reopens it when another process rotated it
   * (or it was removed). Never throws: a failure here leaves the log as it is.
   */
  async maintain(): Promise<void> {
    const stream = this.stream;
    if (!stream) return;
    const [mine, current] = await Promise.all([this.inode, stat(this.file).catch(() => undefined)]);
    if (this.stream !== stream || mine === undefined) return;
    if (current && current.ino === mine && current.size < this.maxBytes) return;
    if (current && current.ino === mine) {
      const rotated = await rename(this.file, `${this.file}.1`).then(
        () => true,
        () => false,
      );
      if (!rotated || this.stream !== stream) return;
    }
    this.stream = undefined;
    stream.end();
    this.open();
  }

  /** Appends one line, or counts it as dropped while the disk is full or the log is stopped. */
  write(line: string): void {
    if (!this.stream || this.disk.isFull) {
      this.dropped++;
      return;
    }
    if (this.pendingLines === 0) setImmediate(this.flush);
    this.pending += `${line}\n`;
    this.pendingLines++;
    if (this.pending.length >= FLUSH_CHARS) this.flush();
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
    this.flush();
    const stream = this.stream;
    this.stream = undefined;
    return new Promise((resolve) => (stream ? stream.end(() => resolve()) : resolve()));
  }

  private open(): void {
    const stream = createWriteStream(this.file, { flags: 'a', mode: 0o600 });
    this.inode = new Promise((resolve) => {
      stream.once('open', (fd) => {
        fstat(fd, (error, s) => resolve(error ? undefined : s.ino));
      });
      stream.once('close', () => resolve(undefined));
    });
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
