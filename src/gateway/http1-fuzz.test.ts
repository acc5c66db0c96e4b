/**
 * Fuzzing the HTTP/1 request parser and the chunked decoder against Node's own parser (llhttp).
 * The oracle: for the same bytes, a real `node:http` server on 127.0.0.1 accepts the same message
 * (same method, same body, same end: a request sent right after it is read as the next one), or
 * cairn refuses it. cairn accepting what llhttp refuses, or ending a message elsewhere, is a
 * request-smuggling bug. Time-bounded (CAIRN_FUZZ_MS, default 4 s); fast-check prints the seed
 * and path of a failure, and CAIRN_FUZZ_SEED with CAIRN_FUZZ_PATH replays it.
 */
import { createServer, METHODS, type Server } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkedScanner } from './chunked.js';
import { headEnd, parseRequestHead } from './http1.js';

const MAX_HEADER_BYTES = 16 * 1024;
const FUZZ_MS = Number(process.env.CAIRN_FUZZ_MS ?? 4000);
const SEED = process.env.CAIRN_FUZZ_SEED ? Number(process.env.CAIRN_FUZZ_SEED) : Date.now() % 2 ** 31;
const SENTINEL = 'GET /sentinel HTTP/1.1\r\nHost: s\r\n\r\n';

type Verdict =
  | { kind: 'accept'; method: string; body: string; end: number; keepAlive: boolean }
  | { kind: 'reject' }
  | { kind: 'incomplete' };

/** What the gateway's connection makes of `bytes` (client-connection.ts and request-body.ts, without sockets). */
function cairnVerdict(bytes: Buffer): Verdict {
  let start = 0;
  while (bytes[start] === 0x0d && bytes[start + 1] === 0x0a) start += 2;
  const buf = bytes.subarray(start);
  const end = headEnd(buf);
  if (end < 0) return buf.length > MAX_HEADER_BYTES ? { kind: 'reject' } : { kind: 'incomplete' };
  if (end > MAX_HEADER_BYTES) return { kind: 'reject' };
  const head = parseRequestHead(buf.toString('latin1', 0, end - 4));
  if ('status' in head) return { kind: 'reject' };
  const rest = buf.subarray(end);
  const accept = (body: Buffer, bodyEnd: number): Verdict => ({
    kind: 'accept',
    method: head.method,
    body: body.toString('hex'),
    end: start + end + bodyEnd,
    keepAlive: head.keepAlive && !head.upgrade,
  });
  if (!head.chunked) {
    if (rest.length < head.contentLength) return { kind: 'incomplete' };
    return accept(rest.subarray(0, head.contentLength), head.contentLength);
  }
  const data: Buffer[] = [];
  const bodyEnd = new ChunkedScanner().scan(rest, (d) => data.push(Buffer.from(d)));
  if (bodyEnd === -2) return { kind: 'reject' };
  if (bodyEnd === -1) return { kind: 'incomplete' };
  return accept(Buffer.concat(data), bodyEnd);
}

interface NodeAnswer {
  status: number;
  /** Method, body (hex) and URL of the request the handler saw, for a 200. */
  seen?: { m: string; b: string; u: string };
  code?: string;
}

let server: Server;
let port = 0;

/** Node's answers to `bytes` sent on one connection then half-closed; waits up to `waitMs` for them. */
function nodeAnswers(bytes: Buffer, waitMs: number): Promise<NodeAnswer[]> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    const parts: Buffer[] = [];
    socket.on('data', (d) => parts.push(d));
    socket.on('error', () => {});
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseAnswers(Buffer.concat(parts).toString('latin1')));
    });
  });
}

/** Splits Node's responses (a Content-Length, an empty chunked body, or the last one); skips 100 Continue. */
function parseAnswers(text: string): NodeAnswer[] {
  const out: NodeAnswer[] = [];
  let at = 0;
  while (at < text.length) {
    const headEndAt = text.indexOf('\r\n\r\n', at);
    if (headEndAt < 0) break;
    const head = text.slice(at, headEndAt);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    const body = text.slice(headEndAt + 4, headEndAt + 4 + length);
    at = headEndAt + 4 + length;
    // Node's own empty answers (417) are chunked: just the last chunk.
    if (/\r\ntransfer-encoding: chunked/i.test(head)) at = text.indexOf('0\r\n\r\n', headEndAt + 4) + 5;
    if (status === 100) continue;
    const code = /\r\nx-code: (\S+)/.exec(head)?.[1];
    out.push(status === 200 ? { status, seen: JSON.parse(body) } : { status, ...(code && { code }) });
    if (status !== 200 && status !== 417) break;
  }
  return out;
}

/** The differential check of one input; throws with both verdicts when cairn is more lenient. */
async function compare(bytes: Buffer): Promise<void> {
  const cairn = cairnVerdict(bytes);
  if (cairn.kind === 'reject') return;
  if (cairn.kind === 'incomplete') {
    // Node must not have read a whole message where cairn waits for more (it would end it earlier).
    const [first] = await nodeAnswers(bytes, 30);
    if (first?.status === 200)
      throw new Error(
        `cairn waits for more, node accepted: ${JSON.stringify({ input: bytes.toString('latin1'), first })}`,
      );
    return;
  }
  const message = bytes.subarray(0, cairn.end);
  // After a message that closes the connection, Node refuses anything more (HPE_CLOSED_CONNECTION).
  const next = Buffer.from(cairn.keepAlive ? SENTINEL : '');
  const answers = await nodeAnswers(Buffer.concat([message, next]), 3000);
  const [first, second] = answers;
  // Methods are extensible (RFC 9110 §9.1): llhttp knows a fixed list, the gateway forwards any token.
  if (first?.code === 'HPE_INVALID_METHOD' && !METHODS.includes(cairn.method)) return;
  const verdicts = JSON.stringify({ input: bytes.toString('latin1'), cairn, node: answers });
  // 417: Node's server does not meet an Expect other than 100-continue (RFC 9110 §10.1.1 allows
  // it); the gateway drops the field. A server's choice, not a reading of the bytes: only the end counts.
  const expectation = first?.status === 417;
  if (first?.status !== 200 && !expectation) throw new Error(`cairn accepted what node refused: ${verdicts}`);
  if (!expectation && (first!.seen!.m !== cairn.method || first!.seen!.b !== cairn.body))
    throw new Error(`cairn and node read different messages: ${verdicts}`);
  if (cairn.keepAlive && second?.seen?.u !== '/sentinel')
    throw new Error(`cairn and node end the message in different places: ${verdicts}`);
}

// ---- generators: requests with the framing smugglers play with, then byte-level damage ----

const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
/** Mostly `usual`, sometimes one of `odd`: most inputs must get past the head to test the body. */
const often = <T>(usual: T, ...odd: T[]) =>
  fc.oneof({ weight: 6, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: pick(...odd) });
const EOL = often('\r\n', '\n', '\r', '\r\r\n', '\n\r');
const TRICKY = pick(
  '\r',
  '\n',
  '\0',
  ' ',
  '\t',
  ':',
  ';',
  '"',
  '\\',
  '=',
  '\v',
  '\x7f',
  '\x80',
  '\xff',
  '0',
  'a',
  ',',
);
const smallText = fc
  .array(fc.oneof({ weight: 3, arbitrary: pick('a', 'b', '1', '-', '/', '.') }, TRICKY), { maxLength: 6 })
  .map((a) => a.join(''));

const target = fc.oneof(
  { weight: 3, arbitrary: pick('/', '/a/b?c=d', 'http://app.test/x', 'http://app.test?q') },
  pick('*', 'HTTP://a:80/', 'http:///x', 'http://u@a/', 'a/b', '/%00', '//a'),
  smallText.map((t) => `/${t}`),
);
const version = often('HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'http/1.1', 'HTTP/1.1 ', 'HTTP/1.01');
const method = fc.oneof(
  { weight: 6, arbitrary: pick('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
  pick('FOO', 'G ET', 'GET\t', 'get', 'CONNECT'),
);
const host = often(['Host', ' app.test'], ['host', ' a'], ['Host', ''], ['Host ', ' a'], ['Host', ' b\0']);
const oddHeader = fc.oneof(
  fc.tuple(pick('Host', 'HOST'), pick(' app.test', ' b', ' app.test, b')),
  fc.tuple(
    pick('Content-Length', 'content-length', 'Content-Length '),
    pick(' 0', ' 3', ' +3', ' 3, 3', ' 03', ' -1', ' 3\v', ' 1e1', ' 3 ', ' \xa03'),
  ),
  fc.tuple(
    pick('Transfer-Encoding', 'transfer-encoding', 'Transfer-Encoding '),
    pick(
      ' chunked',
      ' Chunked',
      ' gzip, chunked',
      ' chunked, gzip',
      ' chunked ',
      ' \vchunked',
      ' identity',
      ' "chunked"',
      ' chunked,',
    ),
  ),
  fc.tuple(
    pick('Connection', 'Expect', 'X-A', 'X A', 'X\0', 'X\xe9'),
    fc.oneof(pick(' close', ' keep-alive', ' 100-continue'), smallText),
  ),
);

const chunkLine = fc
  .tuple(
    fc.integer({ min: 0, max: 6 }),
    often('', ';a', ';a=b', ';a="x y"', ';a="\\""', ' ', ';', '; a', ';a=', 'g', ';a=b c', '\t'),
    EOL,
    EOL,
  )
  .map(
    ([size, ext, eol, after]) =>
      `${Math.max(1, size).toString(16)}${ext}${eol}${'x'.repeat(Math.max(1, size))}${after}`,
  );
const trailer = fc.array(fc.tuple(often('X-T: 1', 'X', 'X : 1', 'X:\x01', '', 'X-T:\xe9'), EOL), {
  maxLength: 2,
});
const chunkedBody = fc
  .tuple(fc.array(chunkLine, { maxLength: 3 }), often('0', '0;z', '00', '0 '), EOL, trailer, EOL)
  .map(
    ([chunks, last, eol, lines, end]) =>
      `${chunks.join('')}${last}${eol}${lines.map(([l, e]) => l + e).join('')}${end}`,
  );

/** The body and the headers that frame it, mostly consistent. */
const framed = fc.oneof(
  fc.constant({ headers: [] as string[][], body: '' }),
  pick('', 'abc', 'abcde').map((b) => ({ headers: [['Content-Length', ` ${b.length}`]], body: b })),
  chunkedBody.map((b) => ({ headers: [['Transfer-Encoding', ' chunked']], body: b })),
);

const request = fc
  .tuple(
    often('', '\r\n'),
    method,
    target,
    version,
    EOL,
    host,
    framed,
    fc.array(fc.tuple(oddHeader, EOL), { maxLength: 2 }),
    EOL,
  )
  .map(([lead, m, t, v, eol, h, f, odd, end]) => {
    const fields = [
      `${h[0]}:${h[1]}\r\n`,
      ...f.headers.map(([n, x]) => `${n}:${x}\r\n`),
      ...odd.map(([[n, x], e]) => `${n}:${x}${e}`),
    ];
    return `${lead}${m} ${t} ${v}${eol}${fields.join('')}${end}${f.body}`;
  });

/** Inserts, replaces or deletes a few bytes. */
const damaged = fc
  .tuple(
    request,
    fc.oneof(
      fc.constant([]),
      fc.array(fc.tuple(fc.nat(), pick('insert', 'replace', 'delete'), TRICKY), {
        minLength: 1,
        maxLength: 2,
      }),
    ),
  )
  .map(([text, edits]) => {
    let s = text;
    for (const [at, op, c] of edits) {
      const i = s.length === 0 ? 0 : at % s.length;
      s =
        op === 'insert'
          ? s.slice(0, i) + c + s.slice(i)
          : s.slice(0, i) + (op === 'replace' ? c : '') + s.slice(i + 1);
    }
    return Buffer.from(s, 'latin1');
  });

describe('HTTP/1 request parser and chunked decoder against llhttp (node:http)', () => {
  beforeAll(async () => {
    server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const seen = JSON.stringify({ m: req.method, b: Buffer.concat(parts).toString('hex'), u: req.url });
        res.writeHead(200, { 'content-length': Buffer.byteLength(seen) }).end(seen);
      });
    });
    server.on('clientError', (err: Error & { code?: string }, socket) => {
      socket.end(`HTTP/1.1 400 Bad Request\r\nx-code: ${err.code}\r\ncontent-length: 0\r\n\r\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('accepts only what llhttp accepts, and ends each message where llhttp does', async () => {
    let runs = 0;
    const startedMs = Date.now();
    await fc.assert(
      fc.asyncProperty(damaged, async (bytes) => {
        runs++;
        await compare(bytes);
      }),
      {
        seed: SEED,
        ...(process.env.CAIRN_FUZZ_PATH && { path: process.env.CAIRN_FUZZ_PATH }),
        numRuns: 1_000_000,
        interruptAfterTimeLimit: FUZZ_MS,
        markInterruptAsFailure: false,
      },
    );
    const seconds = (Date.now() - startedMs) / 1000;
    console.info(
      `http1 fuzz: ${runs} inputs in ${seconds.toFixed(1)} s (${Math.round(runs / seconds)}/s), seed ${SEED}`,
    );
    if (!process.env.CAIRN_FUZZ_PATH) expect(runs).toBeGreaterThan(50);
  }, 60_000);

  it('decodes a chunked body the same however its bytes are split', () => {
    fc.assert(
      fc.property(chunkedBody, fc.array(fc.nat(), { maxLength: 6 }), (text, cuts) => {
        const bytes = Buffer.from(`${text}NEXT`, 'latin1');
        const whole = new ChunkedScanner();
        const end = whole.scan(bytes);
        const split = new ChunkedScanner();
        const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
        let at = 0;
        let splitEnd = -1;
        for (const to of [...points, bytes.length]) {
          const r = split.scan(bytes.subarray(at, to));
          if (r !== -1) {
            splitEnd = r < 0 ? r : at + r;
            break;
          }
          at = to;
        }
        expect(splitEnd).toBe(end);
        expect(split.dataBytes).toBe(whole.dataBytes);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
