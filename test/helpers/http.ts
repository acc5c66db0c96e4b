/**
 * One HTTP(S) request with its whole answer as text: the tests' small client where fetch cannot
 * set what they need (a Host header, client certificates, no connection reuse).
 */
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';

/** Sends `options` through `send` (`http.request` or `https.request`); `timeoutMs` ends a stuck one. */
export function requestText<Options extends RequestOptions>(
  send: (options: Options, answer: (res: IncomingMessage) => void) => ClientRequest,
  options: Options,
  timeoutMs?: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = send(options, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
