/**
 * Header rewriting between client and backend: hop-by-hop headers (RFC 9110 §7.6.1) never cross
 * the gateway, and `X-Forwarded-For/-Proto/-Host` tell the backend who really asked.
 */

/**
 * Headers that describe one connection, not the message; `expect` is answered by the gateway. A
 * switch rather than a Set: the names are fresh strings, and a Set would hash each of them.
 */
function isHopByHop(lower: string): boolean {
  switch (lower) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'proxy-authenticate':
    case 'proxy-authorization':
    case 'te':
    case 'trailer':
    case 'transfer-encoding':
    case 'upgrade':
    case 'expect':
      return true;
    default:
      return false;
  }
}

function isForwarded(lower: string): boolean {
  return (
    lower === 'x-forwarded-for' ||
    lower === 'x-forwarded-proto' ||
    lower === 'x-forwarded-host' ||
    lower === 'forwarded'
  );
}
/** The pin header is for the gateway only; backends never see it. */
export const PIN_HEADER = 'x-cairn-release';
/** Only cairn's identity hop says who called (docs/identity.md): a client's own `x-cairn-caller-*` is dropped. */
const CALLER_PREFIX = 'x-cairn-caller-';

export interface ForwardContext {
  clientIp: string;
  /** `http` or `https`, as the client spoke to the gateway. */
  proto: string;
  /** Keep and extend incoming X-Forwarded-* (the gateway sits behind a trusted proxy). */
  trustForwarded: boolean;
  /** Keep `connection: upgrade` and `upgrade` (WebSocket tunnels). */
  keepUpgrade?: boolean;
  /**
   * The Host to send in place of the client's (the authority of an absolute-form target, RFC 9112
   * §3.2.2, or the gateway's own address for an HTTP/1.0 request without Host); the client's is kept
   * when omitted.
   */
  host?: string;
}

/**
 * Names listed in `Connection` that are not hop-by-hop anyway (they are for this message too);
 * undefined when there are none, as with `keep-alive` or `close`.
 */
function connectionTokens(names: readonly string[], raw: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== 'connection') continue;
    for (const t of raw[2 * i + 1]!.split(',')) {
      const token = t.trim().toLowerCase();
      if (isHopByHop(token)) continue;
      tokens ??= new Set();
      tokens.add(token);
    }
  }
  return tokens;
}

/** The lower-case names of a flat `[name, value, …]` list. */
function lowerNames(raw: readonly string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < raw.length; i += 2) names.push(raw[i]!.toLowerCase());
  return names;
}

/**
 * The request headers for the backend, as a flat `[name, value, …]` list (order and case kept);
 * `names` are the lower-case names when the parser already has them.
 */
export function requestHeadersForBackend(
  raw: readonly string[],
  ctx: ForwardContext,
  names: readonly string[] = lowerNames(raw),
): string[] {
  const listed = connectionTokens(names, raw);
  const out: string[] = ctx.host !== undefined ? ['host', ctx.host] : [];
  let priorFor = '';
  let host = '';
  let priorProto = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = names[i / 2]!;
    if (lower === 'host') {
      host = value;
      if (ctx.host !== undefined) continue;
    }
    if (isForwarded(lower)) {
      if (lower === 'x-forwarded-for') priorFor = priorFor ? `${priorFor}, ${value}` : value;
      if (lower === 'x-forwarded-proto') priorProto = value;
      if (ctx.trustForwarded && lower === 'forwarded') out.push(name, value);
      continue;
    }
    if (lower === PIN_HEADER || lower.startsWith(CALLER_PREFIX)) continue;
    const upgradeHeader = lower === 'upgrade' || lower === 'connection';
    if (ctx.keepUpgrade && upgradeHeader) out.push(name, value);
    else if (!isHopByHop(lower) && !listed?.has(lower)) out.push(name, value);
  }
  const xff = ctx.trustForwarded && priorFor ? `${priorFor}, ${ctx.clientIp}` : ctx.clientIp;
  out.push(
    'x-forwarded-for',
    xff,
    'x-forwarded-proto',
    ctx.trustForwarded && priorProto ? priorProto : ctx.proto,
  );
  host = ctx.host ?? host;
  if (host) out.push('x-forwarded-host', host);
  return out;
}

/** The response headers for the client from the backend's raw `[name, value, …]`, minus hop-by-hop. */
export function responseHeadersFromRaw(raw: readonly (Buffer | string)[]): string[] {
  const text = raw.map((b) => (typeof b === 'string' ? b : b.toString('latin1')));
  const names = lowerNames(text);
  const listed = connectionTokens(names, text);
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) {
    if (isHopByHop(names[i]!) || listed?.has(names[i]!)) continue;
    out.push(text[2 * i]!, text[2 * i + 1]!);
  }
  return out;
}

/** The client address without the IPv4-mapped IPv6 prefix. */
export function clientIpOf(remoteAddress: string | undefined): string {
  if (!remoteAddress) return 'unknown';
  return remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
}

/**
 * The request head for a backend, always HTTP/1.1: origin-form request line, forwarded headers, the
 * body's framing kept, and exactly one Host: `ctx.host`, the host the request was routed by.
 */
export function backendRequestHead(
  head: { method: string; target: string; headers: string[]; names?: string[]; chunked: boolean },
  ctx: ForwardContext & { host: string },
): string {
  const headers = requestHeadersForBackend(head.headers, ctx, head.names);
  let text = `${head.method} ${head.target} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  if (head.chunked) text += 'transfer-encoding: chunked\r\n';
  return `${text}\r\n`;
}

/** The response head for a client: the backend's status and end-to-end headers, plus the gateway's own. */
export function clientResponseHead(
  res: { status: number; reason: string; headers: string[]; names: string[] },
  options: { chunked: boolean; close: boolean; setCookie?: string | undefined },
): string {
  const { headers, names } = res;
  const listed = connectionTokens(names, headers);
  let text = `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
  for (let i = 0; i < names.length; i++)
    if (!isHopByHop(names[i]!) && !listed?.has(names[i]!))
      text += `${headers[2 * i]}: ${headers[2 * i + 1]}\r\n`;
  if (options.chunked) text += 'transfer-encoding: chunked\r\n';
  if (options.setCookie) text += `set-cookie: ${options.setCookie}\r\n`;
  if (options.close) text += 'connection: close\r\n';
  return `${text}\r\n`;
}
