/**
 * A request body passing through: bytes are handed on exactly as framed (Content-Length or
 * chunked), counted against the route's limit, and the first byte of the next request is found.
 */
import { ChunkedScanner } from './chunked.js';
import type { RequestHead } from './http1.js';

export type BodyErrorCode = 'BODY_TOO_LARGE' | 'BAD_CHUNK';

/** Where body bytes go; returns false when the receiver wants the sender to pause. */
export type BodySink = (bytes: Buffer) => boolean;

export class RequestBody {
  complete = false;
  error: BodyErrorCode | undefined;
  private remaining: number;
  private readonly scanner: ChunkedScanner | undefined;
  private sink: BodySink | undefined;
  /** Called once when the body is complete or broken. */
  onEnd: (() => void) | undefined;

  /** The route's limit on data bytes; set before the body is attached. */
  maxBytes: number | undefined;

  constructor(head: RequestHead) {
    this.remaining = head.contentLength;
    this.scanner = head.chunked ? new ChunkedScanner() : undefined;
  }

  get dataBytes(): number {
    return this.scanner ? this.scanner.dataBytes : 0;
  }

  /** Starts handing bytes to `sink`. */
  attach(sink: BodySink): void {
    this.sink = sink;
  }

  get attached(): boolean {
    return this.sink !== undefined;
  }

  /**
   * Consumes body bytes from `chunk`; returns what follows the body (the next request) or null.
   * `paused` is set when the sink asked the sender to wait.
   */
  feed(chunk: Buffer): { rest: Buffer | null; paused: boolean } {
    let body = chunk;
    let rest: Buffer | null = null;
    if (this.scanner) {
      const end = this.scanner.scan(chunk);
      if (end === -2) return this.fail('BAD_CHUNK');
      if (end >= 0) {
        body = chunk.subarray(0, end);
        rest = end < chunk.length ? chunk.subarray(end) : null;
        this.complete = true;
      }
      if (this.maxBytes !== undefined && this.scanner.dataBytes > this.maxBytes)
        return this.fail('BODY_TOO_LARGE');
    } else {
      const take = Math.min(this.remaining, chunk.length);
      if (take < chunk.length) {
        body = chunk.subarray(0, take);
        rest = chunk.subarray(take);
      }
      this.remaining -= take;
      this.complete = this.remaining === 0;
    }
    const paused = body.length > 0 && this.sink !== undefined && !this.sink(body);
    if (this.complete) this.onEnd?.();
    return { rest, paused };
  }

  private fail(code: BodyErrorCode): { rest: null; paused: false } {
    this.error = code;
    this.onEnd?.();
    return { rest: null, paused: false };
  }
}
