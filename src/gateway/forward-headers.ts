/**
 * Header rewriting between client and backend: hop-by-hop headers (RFC 9110 §7.6.1) never cross
 * the gateway, and `X-Forwarded-For/-Proto/-Host` tell the backend who really asked.
 */

/** Headers that describe one connection, not the message; `expect` is answered by the gateway. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);
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

/** Names listed in `Connection`, which are hop-by-hop for this message too. */
function connectionTokens(raw: readonly string[]): Set<string> {
  const tokens = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    for (const t of raw[i + 1]!.split(',')) tokens.add(t.trim().toLowerCase());
  }
  return tokens;
}

/** The request headers for the backend, as a flat `[name, value, …]` list (order and case kept). */
export function requestHeadersForBackend(raw: readonly string[], ctx: ForwardContext): string[] {
  const listed = connectionTokens(raw);
  const out: string[] = ctx.host !== undefined ? ['host', ctx.host] : [];
  let priorFor = '';
  let host = '';
  let priorProto = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'host') {
      host = value;
      if (ctx.host !== undefined) continue;
    }
    if (FORWARDED.has(lower)) {
      if (lower === 'x-forwarded-for') priorFor = priorFor ? `${priorFor}, ${value}` : value;
      if (lower === 'x-forwarded-proto') priorProto = value;
      if (ctx.trustForwarded && lower === 'forwarded') out.push(name, value);
      continue;
    }
    if (lower === PIN_HEADER || lower.startsWith(CALLER_PREFIX)) continue;
    const upgradeHeader = lower === 'upgrade' || lower === 'connection';
    if (ctx.keepUpgrade && upgradeHeader) out.push(name, value);
    else if (!HOP_BY_HOP.has(lower) && !listed.has(lower)) out.push(name, value);
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
  const listed = connectionTokens(text);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 2) {
    const name = text[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    out.push(name, text[i + 1]!);
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
  head: { method: string; target: string; headers: string[]; chunked: boolean },
  ctx: ForwardContext & { host: string },
): string {
  const headers = requestHeadersForBackend(head.headers, ctx);
  let text = `${head.method} ${head.target} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  if (head.chunked) text += 'transfer-encoding: chunked\r\n';
  return `${text}\r\n`;
}

/** The response head for a client: the backend's status and end-to-end headers, plus the gateway's own. */
export function clientResponseHead(
  res: { status: number; reason: string; headers: string[] },
  options: { chunked: boolean; close: boolean; setCookie?: string | undefined },
): string {
  const headers = responseHeadersFromRaw(res.headers);
  let text = `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  if (options.chunked) text += 'transfer-encoding: chunked\r\n';
  if (options.setCookie) text += `set-cookie: ${options.setCookie}\r\n`;
  if (options.close) text += 'connection: close\r\n';
  return `${text}\r\n`;
}
