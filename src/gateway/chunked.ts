/**
 * Chunked transfer coding (RFC 9112 §7.1), followed byte by byte as a body passes through the
 * gateway: where the message ends, how many data bytes it carried, and the data without framing.
 * Strict: a size that is not hexadecimal or has more than 12 digits, an extension or trailer line
 * longer than 4 KiB, data longer than its size, or a line not ending in CRLF is a framing error
 * (the connection is closed). Pure.
 */

enum Chunk {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  Done,
}

const MAX_LINE = 4096;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Follows a chunked body (RFC 9112 §7.1) as its bytes pass through, to find where the message ends
 * and how many data bytes it carried; optionally hands out the data without the framing.
 */
export class ChunkedScanner {
  /** Data bytes seen so far (without framing). */
  dataBytes = 0;
  /** Set when the framing is broken; the connection must be closed. */
  error: string | undefined;
  private state = Chunk.Size;
  private size = 0;
  private digits = 0;
  private lineLength = 0;

  get done(): boolean {
    return this.state === Chunk.Done;
  }

  /**
   * Scans `buf`; returns the index just past the message's end when it ends inside `buf`, -1 when
   * more is needed, -2 on a framing error (see `error`). `onData` receives data slices.
   */
  scan(buf: Buffer, onData?: (data: Buffer) => void): number {
    let i = 0;
    while (i < buf.length) {
      if (this.state === Chunk.Data) {
        const take = Math.min(this.size, buf.length - i);
        if (onData && take > 0) onData(buf.subarray(i, i + take));
        this.size -= take;
        this.dataBytes += take;
        i += take;
        if (this.size === 0) this.state = Chunk.DataCr;
        continue;
      }
      const c = buf[i++]!;
      const next = this.step(c);
      if (next === -2) return -2;
      if (this.state === Chunk.Done) return i;
    }
    return -1;
  }

  private fail(message: string): number {
    this.error = message;
    return -2;
  }

  /** One framing byte; -2 on error. */
  private step(c: number): number {
    switch (this.state) {
      case Chunk.Size: {
        const v = hexValue(c);
        if (v >= 0) {
          if (++this.digits > 12) return this.fail('chunk size is too large');
          this.size = this.size * 16 + v;
          return 0;
        }
        if (this.digits === 0) return this.fail('chunk size is not hexadecimal');
        if (c === 0x0d) this.state = Chunk.SizeLf;
        else if (c === 0x3b || c === 0x20 || c === 0x09) this.state = Chunk.Ext;
        else return this.fail('chunk size is not hexadecimal');
        return 0;
      }
      case Chunk.Ext:
        if (++this.lineLength > MAX_LINE) return this.fail('chunk extension is too long');
        if (c === 0x0d) this.state = Chunk.SizeLf;
        else if (c === 0x0a) return this.fail('chunk line does not end in CRLF');
        return 0;
      case Chunk.SizeLf:
        if (c !== 0x0a) return this.fail('chunk line does not end in CRLF');
        this.lineLength = 0;
        this.digits = 0;
        this.state = this.size === 0 ? Chunk.Trailer : Chunk.Data;
        return 0;
      case Chunk.DataCr:
        if (c !== 0x0d) return this.fail('chunk data is longer than its size');
        this.state = Chunk.DataLf;
        return 0;
      case Chunk.DataLf:
        if (c !== 0x0a) return this.fail('chunk data does not end in CRLF');
        this.state = Chunk.Size;
        return 0;
      case Chunk.Trailer:
        return this.trailer(c);
      default:
        return this.fail('data after the last chunk');
    }
  }

  /** Trailer lines until an empty line; `lineLength` counts the current line (CR included). */
  private trailer(c: number): number {
    if (c === 0x0a) {
      if (this.lineLength === 1) this.state = Chunk.Done;
      else if (this.lineLength === 0) return this.fail('trailer line does not end in CRLF');
      this.lineLength = 0;
      return 0;
    }
    if (++this.lineLength > MAX_LINE) return this.fail('trailer is too long');
    return 0;
  }
}
