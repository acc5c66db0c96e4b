/**
 * Receives HAProxy's request log over TCP (syslog octet counting, RFC 6587: `<length> <message>`)
 * and turns each line into a record for the metrics and the JSON access log.
 */
import { createServer, type Server, type Socket } from 'node:net';

/** One request as HAProxy logged it (`LOG_FORMAT`; `METRICS_LOG_FORMAT` leaves the last five empty). */
export interface LogRecord {
  route: string;
  backend: string;
  server: string;
  /** 499 when the client left before an answer. */
  status: number;
  durationMs: number;
  method: string;
  host: string;
  path: string;
  client: string;
  bytesOut: number;
}

const dash = (s: string | undefined): string => (s === undefined || s === '-' ? '' : s);

/** Parses one log line; undefined for a line that is not a request record. */
export function parseLogLine(line: string): LogRecord | undefined {
  const f = line.split('\t');
  if (f.length !== 5 && f.length < 10) return undefined;
  const status = Number(f[3]);
  const micros = Number(f[4]);
  return {
    route: dash(f[0]),
    backend: dash(f[1]),
    server: f[2] === '<NOSRV>' ? '' : dash(f[2]),
    status: status > 0 ? status : 499,
    durationMs: Number.isFinite(micros) && micros >= 0 ? micros / 1000 : 0,
    method: dash(f[5]),
    host: dash(f[6]),
    path: dash(f[7]),
    client: dash(f[8]),
    bytesOut: Number(f[9]) || 0,
  };
}

/** Splits octet-counted frames out of a stream; keeps an incomplete tail for the next chunk. */
export class FrameReader {
  private pending = '';

  push(chunk: string, onMessage: (message: string) => void): void {
    const text = this.pending + chunk;
    let at = 0;
    while (at < text.length) {
      const space = text.indexOf(' ', at);
      if (space === -1) break;
      const length = Number(text.slice(at, space));
      if (!Number.isInteger(length) || length < 0) {
        at = text.length; // not octet counting: drop what we cannot frame
        break;
      }
      if (space + 1 + length > text.length) break;
      onMessage(text.slice(space + 1, space + 1 + length));
      at = space + 1 + length;
    }
    this.pending = text.slice(at);
  }
}

/** A TCP listener on 127.0.0.1 that HAProxy's log ring forwards to. */
export class LogSink {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(onRecord: (record: LogRecord) => void) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      const reader = new FrameReader();
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) =>
        reader.push(chunk, (message) => {
          const record = parseLogLine(message.endsWith('\n') ? message.slice(0, -1) : message);
          if (record) onRecord(record);
        }),
      );
      socket.on('error', () => socket.destroy());
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Starts listening; resolves with the port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
