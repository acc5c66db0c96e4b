/**
 * Chunked transfer coding (RFC 9112 §7.1), followed byte by byte as a body passes through the
 * gateway: where the message ends, how many data bytes it carried, and the data without framing.
 * Strict, because a byte the gateway and the backend read differently is a smuggling primitive:
 * every line ends in CRLF (a bare LF or CR is an error, also in the trailer), a size is 1–12 hex
 * digits, an extension is `;name[=token|"quoted"]` without whitespace, a trailer line is a field
 * (`name: value`), and an extension line or the trailer section is at most 4 KiB. A framing error
 * closes the connection. Pure.
 */

enum Chunk {
  Size,
  ExtName,
  ExtNameMore,
  ExtValue,
  ExtToken,
  ExtQuoted,
  ExtQuotedPair,
  ExtQuoteEnd,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerLine,
  TrailerName,
  TrailerValue,
  TrailerLf,
  LastLf,
  Done,
}

const MAX_LINE = 4096;
const CR = 0x0d;
const LF = 0x0a;

/** tchar of RFC 9110 §5.6.2. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TOKEN[c.charCodeAt(0)] = 1;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Visible ASCII, the only bytes a quoted extension value may hold (besides its escapes). */
const isVisible = (c: number) => c >= 0x20 && c <= 0x7e;
/** A field value byte: visible, space, tab or obs-text (RFC 9110 §5.5). */
const isFieldByte = (c: number) => c === 0x09 || (c >= 0x20 && c !== 0x7f);

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
  /** Bytes of the current extension line, or of the whole trailer section. */
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
      if (this.error !== undefined || !this.step(buf[i++]!)) return -2;
      if (this.state === Chunk.Done) return i;
    }
    return -1;
  }

  private fail(message: string): false {
    this.error = message;
    return false;
  }

  private to(state: Chunk): true {
    this.state = state;
    return true;
  }

  /** One framing byte; false on a framing error. */
  private step(c: number): boolean {
    switch (this.state) {
      case Chunk.Size:
        return this.sizeByte(c);
      case Chunk.SizeLf:
        if (c !== LF) return this.fail('chunk line does not end in CRLF');
        this.digits = 0;
        this.lineLength = 0;
        return this.to(this.size === 0 ? Chunk.TrailerLine : Chunk.Data);
      case Chunk.DataCr:
        return c === CR ? this.to(Chunk.DataLf) : this.fail('chunk data is longer than its size');
      case Chunk.DataLf:
        return c === LF ? this.to(Chunk.Size) : this.fail('chunk data does not end in CRLF');
      case Chunk.Done:
        return this.fail('data after the last chunk');
      default:
        if (++this.lineLength > MAX_LINE)
          return this.fail(
            this.state >= Chunk.TrailerLine ? 'trailer is too long' : 'chunk extension is too long',
          );
        return this.state >= Chunk.TrailerLine ? this.trailerByte(c) : this.extensionByte(c);
    }
  }

  private sizeByte(c: number): boolean {
    const v = hexValue(c);
    if (v >= 0) {
      if (++this.digits > 12) return this.fail('chunk size is too large');
      this.size = this.size * 16 + v;
      return true;
    }
    if (this.digits === 0) return this.fail('chunk size is not hexadecimal');
    if (c === CR) return this.to(Chunk.SizeLf);
    if (c === 0x3b) return this.to(Chunk.ExtName);
    return this.fail('chunk size is not hexadecimal');
  }

  /** `;name`, `;name=token` or `;name="quoted"`, repeated, then CRLF. */
  private extensionByte(c: number): boolean {
    switch (this.state) {
      case Chunk.ExtName:
        return TOKEN[c] ? this.to(Chunk.ExtNameMore) : this.fail('chunk extension has no name');
      case Chunk.ExtValue:
        if (c === 0x22) return this.to(Chunk.ExtQuoted);
        return TOKEN[c] ? this.to(Chunk.ExtToken) : this.fail('chunk extension value is not a token');
      case Chunk.ExtQuoted:
        if (c === 0x22) return this.to(Chunk.ExtQuoteEnd);
        if (c === 0x5c) return this.to(Chunk.ExtQuotedPair);
        return isVisible(c) || this.fail('chunk extension has a control character');
      case Chunk.ExtQuotedPair:
        return isVisible(c) ? this.to(Chunk.ExtQuoted) : this.fail('chunk extension has a control character');
    }
    if (TOKEN[c] && this.state !== Chunk.ExtQuoteEnd) return true;
    if (c === CR) return this.to(Chunk.SizeLf);
    if (c === 0x3b) return this.to(Chunk.ExtName);
    if (c === 0x3d && this.state === Chunk.ExtNameMore) return this.to(Chunk.ExtValue);
    return this.fail('chunk extension is not ;name=value');
  }

  /** Trailer field lines (`name: value` CRLF) until an empty line (CRLF). */
  private trailerByte(c: number): boolean {
    switch (this.state) {
      case Chunk.TrailerLine:
        if (c === CR) return this.to(Chunk.LastLf);
        return TOKEN[c] ? this.to(Chunk.TrailerName) : this.fail('trailer line is not a field');
      case Chunk.TrailerName:
        if (c === 0x3a) return this.to(Chunk.TrailerValue);
        return TOKEN[c] ? true : this.fail('trailer field name is not a token');
      case Chunk.TrailerValue:
        if (c === CR) return this.to(Chunk.TrailerLf);
        return isFieldByte(c) || this.fail('trailer field has a control character');
      case Chunk.TrailerLf:
        return c === LF ? this.to(Chunk.TrailerLine) : this.fail('trailer line does not end in CRLF');
      default:
        return c === LF ? this.to(Chunk.Done) : this.fail('trailer does not end in CRLF');
    }
  }
}
