/** Streams a request body to the backend, failing the stream once it passes the route's limit. */
import type { IncomingMessage } from 'node:http';
import { type Readable, Transform } from 'node:stream';

/** The body as a stream that errors with code `BODY_TOO_LARGE` past `maxBytes` (none: the request itself). */
export function limitBody(req: IncomingMessage, maxBytes: number | undefined): Readable {
  if (maxBytes === undefined) return req;
  let seen = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > maxBytes) {
        done(Object.assign(new Error(`request body over ${maxBytes} bytes`), { code: 'BODY_TOO_LARGE' }));
        return;
      }
      done(null, chunk);
    },
  });
  req.on('error', (err) => limited.destroy(err));
  return req.pipe(limited);
}
