/**
 * HTTP/1.1 message heads and how their body is framed (RFC 9112; the chunked coding itself is in
 * chunked.ts), strict where a lenient reading would let a
 * request mean one thing to the gateway and another to the backend (request smuggling): one
 * Host, one Content-Length, `chunked` last in Transfer-Encoding and never with Content-Length, no
 * obsolete line folding, no whitespace before a colon. Pure: strings and buffers in, plain data out.
 */

import { isDigit, isFieldValue, isOws, isToken, isVisibleAscii } from './http1-chars.js';

/** A request head the gateway accepted. Header names keep their case in `headers`; `names` are lower case. */
export interface RequestHead {
  method: string;
  /** The origin-form target (`/path?query`); an absolute-form target is reduced to it. */
  target: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: number;
  /** `[name, value, name, value, …]` as received. */
  headers: string[];
  /** Lower-case header names, one per pair in `headers`. */
  names: string[];
  /** The Host field, or the authority of an absolute-form target; undefined only for HTTP/1.0. */
  host: string | undefined;
  /** The declared body length; 0 when there is no body. */
  contentLength: number;
  chunked: boolean;
  /** The client wants the connection kept open after this exchange. */
  keepAlive: boolean;
  /** `Connection: upgrade` with an `Upgrade` header (WebSocket). */
  upgrade: boolean;
  expectContinue: boolean;
}

/** A response head from a backend. */
export interface ResponseHead {
  status: number;
  reason: string;
  minor: number;
  headers: string[];
  names: string[];
  /** -1 when the response declares no length. */
  contentLength: number;
  chunked: boolean;
  /** The backend will keep the connection open after this response. */
  keepAlive: boolean;
  /** The client's head for this response without cookie, close or chunked framing, once built (see exchange.ts). */
  plainClientHead?: string;
}

/** Why a request head was refused, with the status to answer. */
export interface HeadError {
  status: 400 | 501 | 505;
  message: string;
}

const DIGITS = /^\d{1,15}$/;
/** `chunked,` or `, chunked`: RFC 9110 §5.6.1 tolerates empty list elements, llhttp does not. */
const EMPTY_ELEMENT = /^[ \t]*,|,[ \t]*(,|$)|^$/;
const ABSOLUTE = /^https?:\/\/([^/?#]*)([^#]*)/i;
/** A DNS name or an IP literal, with an optional port: the hosts a route can name. */
const AUTHORITY = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Index just past the blank line ending a head in `buf`, or -1 while it is incomplete. */
export function headEnd(buf: Buffer, from = 0): number {
  const at = buf.indexOf('\r\n\r\n', Math.max(0, from - 3), 'latin1');
  return at < 0 ? -1 : at + 4;
}

interface Fields {
  headers: string[];
  names: string[];
}

/**
 * Splits header lines into fields; a string is the error. One pass over each line's char codes:
 * the name must be a token, the value loses the spaces and tabs around it and must hold no
 * control character, and a framing header may not end in a tab.
 */
function parseFields(lines: string[]): Fields | string {
  const headers: string[] = [];
  const names: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return `header line ${i} has no name`;
    if (!isToken(line, 0, colon))
      return `header name ${JSON.stringify(line.slice(0, Math.min(colon, 40)))} is not a token`;
    let end = line.length;
    let trailingTab = false;
    while (end > colon + 1 && isOws(line.charCodeAt(end - 1)))
      if (line.charCodeAt(--end) === 9) trailingTab = true;
    let start = colon + 1;
    while (start < end && isOws(line.charCodeAt(start))) start++;
    const name = line.slice(0, colon);
    if (!isFieldValue(line, start, end)) return `header ${name} has a control character in its value`;
    const lower = name.toLowerCase();
    // llhttp refuses a tab after a framing value; a reading that differs from a backend's is a risk.
    if (trailingTab && (lower === 'content-length' || lower === 'transfer-encoding'))
      return `header ${name} ends in a tab`;
    headers.push(name, line.slice(start, end));
    names.push(lower);
  }
  return { headers, names };
}

/** The value of the only field called `name`; `null` when it appears more than once with different values. */
function single(f: Fields, name: string): string | undefined | null {
  let found: string | undefined;
  for (let i = 0; i < f.names.length; i++) {
    if (f.names[i] !== name) continue;
    const v = f.headers[2 * i + 1]!;
    if (found !== undefined && found !== v) return null;
    found = v;
  }
  return found;
}

/** Every comma-separated token of every field called `name`, lower case. */
export function tokensOf(names: readonly string[], headers: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== name) continue;
    for (const t of headers[2 * i + 1]!.split(',')) {
      const token = t.trim().toLowerCase();
      if (token) out.push(token);
    }
  }
  return out;
}

/** The first value of header `name` (lower case), if any. */
export function headerOf(
  head: { names: readonly string[]; headers: readonly string[] },
  name: string,
): string | undefined {
  const i = head.names.indexOf(name);
  return i < 0 ? undefined : head.headers[2 * i + 1];
}

interface Framing {
  contentLength: number;
  chunked: boolean;
}

/** Body framing of a message from its Content-Length and Transfer-Encoding; a string is the error. */
function framingOf(f: Fields): Framing | string {
  const te = tokensOf(f.names, f.headers, 'transfer-encoding');
  for (let i = 0; i < f.names.length; i++)
    if (f.names[i] === 'transfer-encoding' && EMPTY_ELEMENT.test(f.headers[2 * i + 1]!))
      return 'transfer-encoding has an empty element';
  const cl = single(f, 'content-length');
  if (cl === null) return 'content-length appears twice with different values';
  if (te.length > 0) {
    if (cl !== undefined) return 'both transfer-encoding and content-length are set';
    if (te[te.length - 1] !== 'chunked') return 'transfer-encoding does not end in chunked';
    if (te.indexOf('chunked') !== te.length - 1) return 'transfer-encoding names chunked twice';
    return { contentLength: 0, chunked: true };
  }
  if (cl === undefined) return { contentLength: -1, chunked: false };
  if (!DIGITS.test(cl)) return `content-length ${JSON.stringify(cl.slice(0, 20))} is not a number`;
  return { contentLength: Number(cl), chunked: false };
}

type Target = { target: string; authority: string | undefined } | HeadError;

/** The origin-form target and, for an absolute-form one, its authority (RFC 9112 §3.2). */
function parseTarget(method: string, raw: string): Target {
  // A request target is visible ASCII (RFC 9112 §3.2): no control bytes, no spaces, no raw UTF-8.
  if (!isVisibleAscii(raw))
    return {
      status: 400,
      message: 'send a request target of visible ASCII: it has a control or non-ASCII byte',
    };
  if (raw.charCodeAt(0) === 0x2f) return { target: raw, authority: undefined };
  const absolute = ABSOLUTE.exec(raw);
  if (absolute) {
    const authority = absolute[1]!;
    if (!AUTHORITY.test(authority))
      return { status: 400, message: 'send an absolute-form target with a host[:port] and no user info' };
    const rest = absolute[2]!;
    return { target: rest.startsWith('/') ? rest : `/${rest}`, authority };
  }
  if (raw.startsWith('/') || (raw === '*' && method === 'OPTIONS'))
    return { target: raw, authority: undefined };
  return { status: 400, message: `request target ${JSON.stringify(raw.slice(0, 40))} is not a path` };
}

/** How many fields are called `name`. */
function countOf(f: Fields, name: string): number {
  let n = 0;
  for (const x of f.names) if (x === name) n++;
  return n;
}

/**
 * The host a request is for: an absolute-form target's authority replaces the Host field (RFC
 * 9112 §3.2.2); otherwise the Host field. HTTP/1.1 requires exactly one Host field either way (§3.2).
 */
function hostOf(
  fields: Fields,
  authority: string | undefined,
  minor: number,
): string | undefined | HeadError {
  const count = countOf(fields, 'host');
  if (count > 1) return { status: 400, message: 'send one host header' };
  if (count === 0 && minor >= 1) return { status: 400, message: 'send a host header' };
  if (authority !== undefined) return authority;
  return count === 0 ? undefined : single(fields, 'host')!;
}

interface RequestLine {
  method: string;
  target: string;
  major: number;
  minor: number;
}

/** `METHOD SP target SP HTTP/d.d`: exactly two spaces, a token for the method, one digit each side of the dot. */
function parseRequestLine(line: string): RequestLine | undefined {
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 <= sp1 + 1 || line.length !== sp2 + 9 || !line.startsWith('HTTP/', sp2 + 1)) return;
  const major = line.charCodeAt(sp2 + 6);
  const minor = line.charCodeAt(sp2 + 8);
  if (!isDigit(major) || line.charCodeAt(sp2 + 7) !== 0x2e || !isDigit(minor) || !isToken(line, 0, sp1))
    return;
  return {
    method: line.slice(0, sp1),
    target: line.slice(sp1 + 1, sp2),
    major: major - 48,
    minor: minor - 48,
  };
}

/** Parses a request head (`text` is the head without its final blank line, latin1-decoded). */
export function parseRequestHead(text: string): RequestHead | HeadError {
  const lines = text.split('\r\n');
  const line = parseRequestLine(lines[0]!);
  if (!line) return { status: 400, message: 'send an HTTP/1.1 request line: METHOD /path HTTP/1.1' };
  if (line.major !== 1 || line.minor > 1)
    return { status: 505, message: `use HTTP/1.1: HTTP/${line.major}.${line.minor} is not supported` };
  const minor = line.minor;
  const fields = parseFields(lines);
  if (typeof fields === 'string') return { status: 400, message: fields };
  // CONNECT asks for a tunnel to an authority (RFC 9110 §9.3.6): the gateway is no forward proxy.
  if (line.method === 'CONNECT')
    return { status: 501, message: 'send requests, not CONNECT: this is no forward proxy' };
  const target = parseTarget(line.method, line.target);
  if ('status' in target) return target;
  const host = hostOf(fields, target.authority, minor);
  if (typeof host === 'object') return host;
  // Identical repeats are allowed by RFC 9110 §8.6, refused by llhttp: refused here too.
  if (countOf(fields, 'content-length') > 1)
    return { status: 400, message: 'send one content-length header' };
  const framing = framingOf(fields);
  if (typeof framing === 'string') return { status: 400, message: framing };
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
  if (framing.chunked && minor === 0)
    return { status: 400, message: 'send a content-length: HTTP/1.0 has no transfer-encoding' };
  const connection = tokensOf(fields.names, fields.headers, 'connection');
  const expect = single(fields, 'expect');
  return {
    method: line.method,
    target: target.target,
    minor,
    headers: fields.headers,
    names: fields.names,
    host,
    contentLength: Math.max(0, framing.contentLength),
    chunked: framing.chunked,
    keepAlive: minor >= 1 ? !connection.includes('close') : connection.includes('keep-alive'),
    upgrade: connection.includes('upgrade') && fields.names.includes('upgrade'),
    expectContinue: typeof expect === 'string' && expect.toLowerCase() === '100-continue',
  };
}

/** `HTTP/1.d SP ddd [SP reason]`, the reason without CR or LF. */
function parseStatusLine(line: string): { minor: number; status: number; reason: string } | undefined {
  if (!line.startsWith('HTTP/1.') || line.charCodeAt(8) !== 0x20) return;
  if (line.length > 12 && line.charCodeAt(12) !== 0x20) return;
  const digits = [7, 9, 10, 11].every((at) => isDigit(line.charCodeAt(at)));
  if (!digits) return;
  const reason = line.length > 12 ? line.slice(13) : '';
  if (reason.includes('\r') || reason.includes('\n')) return;
  const status = (line.charCodeAt(9) - 48) * 100 + (line.charCodeAt(10) - 48) * 10 + line.charCodeAt(11) - 48;
  return { minor: line.charCodeAt(7) - 48, status, reason };
}

/** Parses a backend's response head; a string is the error (the gateway answers 502). */
export function parseResponseHead(text: string): ResponseHead | string {
  const lines = text.split('\r\n');
  const line = parseStatusLine(lines[0]!);
  if (!line) return `status line ${JSON.stringify(lines[0]!.slice(0, 40))} is not HTTP/1.x`;
  const fields = parseFields(lines);
  if (typeof fields === 'string') return fields;
  const framing = framingOf(fields);
  if (typeof framing === 'string') return framing;
  const minor = line.minor;
  const connection = tokensOf(fields.names, fields.headers, 'connection');
  return {
    status: line.status,
    reason: line.reason,
    minor,
    headers: fields.headers,
    names: fields.names,
    contentLength: framing.contentLength,
    chunked: framing.chunked,
    keepAlive: minor >= 1 ? !connection.includes('close') : connection.includes('keep-alive'),
  };
}

/** Whether a response to `method` with `status` has a body at all (RFC 9112 §6.3). */
export function responseHasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** The reason phrase the gateway uses for its own answers. */
export function reasonOf(status: number): string {
  return REASONS[status] ?? 'Error';
}
